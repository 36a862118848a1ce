package agent_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/cache/store/btrfsstore"
	"github.com/rigplan/rigplan/internal/mountinfo"
	"github.com/rigplan/rigplan/internal/rigplanbin"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/internal/testns"
)

// The tests here run the agent against the real things: a btrfs store on
// a loop device, real systemd-nspawn machines (package machinetest) with
// private user ranges, requests sent from inside them by the runner user
// with ncat or the rigplan client. They need root; without what they need
// they skip and say what is missing.

// Paths inside every test machine.
const (
	sockInMachine = "/run/rigplan-cache/socket" // the agent's socket directory is bound here
	binInMachine  = "/opt/rigplan"              // the rigplan binary's directory
	home          = "/home/runner"              // the runner's home, owned by uid 1000
	cacheDir      = home + "/cache"
)

// DefaultFile is in the default volume: every fresh cache starts with it.
const defaultFile = "from-default"

var errNoGo = errors.New("no go tool")

var built struct {
	once sync.Once
	dir  string
	err  error
}

// TestMain runs the tests in a mount namespace of their own (package
// testns): the machines other packages' tests start must not keep
// copies of this package's mounts, nor this package's machines theirs.
func TestMain(m *testing.M) {
	if spec := os.Getenv(floodEnv); spec != "" {
		os.Exit(flood(spec))
	}
	code := testns.Main(m)
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// rigplanBinary builds cmd/rigplan once per test binary: the restart
// tests run the agent as its own process (rigplan cache serve), and
// jobs inside machines use its client.
func rigplanBinary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		if _, err := exec.LookPath("go"); err != nil {
			built.err = errNoGo
			return
		}
		if built.dir, built.err = os.MkdirTemp("", "rigplan-bin"); built.err != nil {
			return
		}
		os.Chmod(built.dir, 0o755)
		_, built.err = rigplanbin.Build(built.dir)
	})
	if errors.Is(built.err, errNoGo) {
		t.Skip("needs the go tool in PATH, to build rigplan for the agent's own process and the client in machines")
	}
	if built.err != nil {
		t.Fatalf("build rigplan: %v", built.err)
	}
	return filepath.Join(built.dir, "rigplan")
}

// env is one test's world: a btrfs store on a loop device, a socket
// directory to bind into machines, a state directory, and the names of
// the declared machines.
type env struct {
	t        testing.TB
	mnt      string // the btrfs filesystem's mount point
	dev      uint64 // its device, as st_dev of the mount point
	store    *btrfsstore.Store
	sockDir  string
	socket   string
	stateDir string
	// declared are the machine names the agent's configuration declares;
	// each may mount under /home/runner.
	declared []string
	// agentLog, when set, receives the log of an agent started as a
	// process instead of the test's log (benchmarks print their logs).
	agentLog io.Writer
}

func sh(t testing.TB, name string, args ...string) string {
	t.Helper()
	res, err := sysexec.Host{}.Run(context.Background(), sysexec.Cmd{Name: name, Args: args, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(res.Stdout))
}

// newEnv prepares an env with n declared machines and a 512 MiB store.
// It skips without root, machines, btrfs or ncat.
func newEnv(t testing.TB, n int) *env {
	t.Helper()
	return newEnvSize(t, n, 512<<20)
}

// newEnvSize is newEnv with a btrfs filesystem of size bytes (a sparse
// image: only what is written takes space).
func newEnvSize(t testing.TB, n int, size int64) *env {
	t.Helper()
	machinetest.Require(t)
	for _, tool := range []string{"mkfs.btrfs", "btrfs", "losetup", "ncat"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian packages btrfs-progs, util-linux, ncat)", tool)
		}
	}
	e := &env{t: t}
	img := filepath.Join(t.TempDir(), "btrfs.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sh(t, "mkfs.btrfs", "-q", img)
	loop := sh(t, "losetup", "--find", "--show", img)
	t.Cleanup(func() { sh(t, "losetup", "--detach", loop) })
	e.mnt = t.TempDir()
	if err := unix.Mount(loop, e.mnt, "btrfs", 0, ""); err != nil {
		t.Fatalf("mount %s: %v", loop, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(e.mnt, 0); err != nil {
			t.Errorf("unmount the test's btrfs at %s (something leaked a mount of it?): %v", e.mnt, err)
			unix.Unmount(e.mnt, unix.MNT_DETACH)
		}
	})
	var st unix.Stat_t
	if err := unix.Stat(e.mnt, &st); err != nil {
		t.Fatal(err)
	}
	e.dev = st.Dev

	def := filepath.Join(e.mnt, "default")
	sh(t, "btrfs", "subvolume", "create", def)
	if err := os.WriteFile(filepath.Join(def, defaultFile), []byte("default\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The runner (uid 1000 in every machine: the mount is idmapped) owns
	// the cache's root.
	if err := os.Chown(def, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	snaps := filepath.Join(e.mnt, "snaps")
	if err := os.Mkdir(snaps, 0o700); err != nil {
		t.Fatal(err)
	}
	if e.store, err = btrfsstore.New(btrfsstore.Config{Dir: snaps, Default: def}); err != nil {
		t.Fatal(err)
	}

	// Socket paths are short (108 bytes): not under t.TempDir.
	if e.sockDir, err = os.MkdirTemp("", "rpc"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(e.sockDir) })
	os.Chmod(e.sockDir, 0o755)
	e.socket = filepath.Join(e.sockDir, "socket")
	e.stateDir = filepath.Join(t.TempDir(), "state")
	for range n {
		e.declared = append(e.declared, fmt.Sprintf("rt-ag-%08x", rand.Uint32()))
	}
	return e
}

// in returns e for use in subtest t: failures and cleanups go to t.
func (e *env) in(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// config is the agent configuration for e, before mod.
func (e *env) config(mod func(*agent.Config)) agent.Config {
	cfg := agent.Config{
		Socket:            e.socket,
		StateDir:          e.stateDir,
		Machines:          map[string][]string{},
		ReadTimeout:       2 * time.Second,
		RetentionInterval: -1, // tests run retention themselves
		SealWait:          20 * time.Second,
		RunnersRoot:       e.t.TempDir(), // no runner policies, whatever the host has
	}
	for _, n := range e.declared {
		cfg.Machines[n] = []string{home}
	}
	if mod != nil {
		mod(&cfg)
	}
	return cfg
}

// tlog writes an agent's log lines to the test's log.
type tlog struct{ t testing.TB }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// serve runs an agent in this process until the test ends.
func (e *env) serve(cfg agent.Config, deps agent.Deps) {
	e.t.Helper()
	if deps.Store == nil {
		deps.Store = e.store
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.NewTextHandler(tlog{e.t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if deps.Notify == nil {
		deps.Notify = func(string) error { return nil }
	}
	a, err := agent.New(cfg, deps)
	if err != nil {
		e.t.Fatal(err)
	}
	ln, err := agent.Listen(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Serve: %v", err)
		}
	})
	e.waitServing()
}

// waitServing waits until the agent answers echo.
func (e *env) waitServing() {
	e.t.Helper()
	eventually(e.t, 30*time.Second, "the agent to answer", func() (bool, string) {
		resp, err := e.try(&protocol.Request{Command: protocol.CommandEcho, Text: "ready"})
		if err != nil {
			return false, err.Error()
		}
		return resp.OK && len(resp.Fields) == 1 && resp.Fields[0] == "ready", fmt.Sprintf("%+v", resp)
	})
}

// try sends req from the test process (root on the host: the operator).
func (e *env) try(req *protocol.Request) (*protocol.Response, error) {
	text, err := req.MarshalText()
	if err != nil {
		return nil, err
	}
	conn, err := net.DialTimeout("unix", e.socket, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := conn.Write(text); err != nil {
		return nil, err
	}
	return protocol.ReadResponse(conn, 0)
}

func (e *env) ask(req *protocol.Request) *protocol.Response {
	e.t.Helper()
	resp, err := e.try(req)
	if err != nil {
		e.t.Fatalf("%s: %v", req.Command, err)
	}
	return resp
}

// machine starts declared machine i with the socket directory and the
// rigplan binary bound in, and the runner's home. startMachine starts
// machine name so, binding binds in too (read-only).
func (e *env) machine(i int) *machinetest.Machine {
	e.t.Helper()
	return e.startMachine(e.declared[i])
}

func (e *env) startMachine(name string, binds ...machinetest.Bind) *machinetest.Machine {
	e.t.Helper()
	opts := machinetest.Options{
		Name:         name,
		BindReadOnly: append([]machinetest.Bind{{Host: e.sockDir, Machine: filepath.Dir(sockInMachine)}}, binds...),
	}
	if built.dir != "" {
		opts.BindReadOnly = append(opts.BindReadOnly, machinetest.Bind{Host: built.dir, Machine: binInMachine})
	}
	m := machinetest.Start(e.t, opts)
	m.Sh(e.t, machinetest.Root, "mkdir -p "+home+" && chown 1000:1000 "+home)
	return m
}

// ncat sends text from inside machine m, as the runner, the way the
// original setup's workflow step does, and returns what ncat printed.
func ncat(t testing.TB, m *machinetest.Machine, text string) string {
	t.Helper()
	res, err := m.Exec(context.Background(), machinetest.Cmd{
		UID: machinetest.Runner, Args: []string{"ncat", "-U", sockInMachine}, Stdin: strings.NewReader(text),
	})
	if err != nil {
		var se *sysexec.Error
		if !errors.As(err, &se) {
			t.Fatal(err)
		}
		// ncat may report a reset after printing the answer; the answer
		// is what counts.
		t.Logf("ncat: %v", err)
	}
	return string(res.Stdout)
}

// okLine parses an ok line of mount, failing t on anything else.
func okMount(t testing.TB, out string) protocol.MountResult {
	t.Helper()
	resp, err := protocol.ReadResponse(strings.NewReader(out), 0)
	if err != nil {
		t.Fatalf("answer %q: %v", out, err)
	}
	m, err := protocol.ParseMountResult(resp)
	if err != nil {
		t.Fatalf("answer %q: %v", out, err)
	}
	return m
}

// errorLine checks that out is one error line whose reason has every
// one of want.
func errorLine(t testing.TB, out string, want ...string) {
	t.Helper()
	resp, err := protocol.ReadResponse(strings.NewReader(out), 0)
	if err != nil {
		t.Fatalf("answer %q: %v", out, err)
	}
	if resp.OK || strings.Count(out, "\n") != 1 {
		t.Fatalf("answer %q, want one error line", out)
	}
	for _, w := range want {
		if !strings.Contains(resp.Reason, w) {
			t.Errorf("reason %q lacks %q", resp.Reason, w)
		}
	}
}

// snapshots lists the store.
func (e *env) snapshots() []store.Snapshot {
	e.t.Helper()
	snaps, err := e.store.List(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return snaps
}

func (e *env) snapshot(name string) (store.Snapshot, bool) {
	for _, s := range e.snapshots() {
		if s.Name == name {
			return s, true
		}
	}
	return store.Snapshot{}, false
}

// states counts the store's snapshots (not the default volume) by state.
func (e *env) states() map[store.State]int {
	out := map[store.State]int{}
	for _, s := range e.snapshots() {
		if !s.Default {
			out[s.State]++
		}
	}
	return out
}

// waitState waits until snapshot name is in state st (or gone, for "")
// in the store, and in the agent's view when an agent answers: the
// store is written first, the view a moment later, and what a test asks
// the agent next depends on the view.
func (e *env) waitState(name string, st store.State) {
	e.t.Helper()
	eventually(e.t, time.Minute, fmt.Sprintf("snapshot %s to be %q", name, st), func() (bool, string) {
		s, ok := e.snapshot(name)
		if st == "" && ok || st != "" && (!ok || s.State != st) {
			return false, fmt.Sprintf("in the store: %+v (present %v)", s, ok)
		}
		if view, agrees := e.viewHas(name, st); !agrees {
			return false, "in the agent's view: " + view
		}
		return true, ""
	})
}

// viewHas reports whether the agent's ls shows snapshot name in state st
// (absent, for ""); it agrees when no agent answers.
func (e *env) viewHas(name string, st store.State) (string, bool) {
	resp, err := e.try(&protocol.Request{Command: protocol.CommandList})
	if err != nil || !resp.OK {
		return "no answer", true
	}
	for _, rec := range resp.Records {
		s, err := protocol.ParseSnapshot(rec)
		if err != nil || s.Name != name {
			continue
		}
		got := store.Pending
		switch {
		case s.Sealed:
			got = store.Sealed
		case s.InUse:
			got = store.InUse
		}
		return fmt.Sprintf("%+v", s), got == st
	}
	return "absent", st == ""
}

// hostLeaks lists host mounts of the test's filesystem other than its
// own mount point, and anything mounted under the state directory.
func (e *env) hostLeaks() []string {
	e.t.Helper()
	entries, err := mountinfo.Read("/proc/self/mountinfo")
	if err != nil {
		e.t.Fatal(err)
	}
	var mnt inject.MountEntry
	for _, m := range entries {
		if m.Target == e.mnt {
			mnt = m
		}
	}
	var out []string
	for _, m := range entries {
		if m.Target != e.mnt && (m.Dev() == mnt.Dev() || strings.HasPrefix(m.Target, e.stateDir+"/")) {
			out = append(out, m.Target+" ("+m.Root+")")
		}
	}
	return out
}

// noLeaks checks what every request must leave behind, whatever its
// outcome: no pending snapshot, no host mount of the store, no staging
// directory.
func (e *env) noLeaks() {
	e.t.Helper()
	if n := e.states()[store.Pending]; n > 0 {
		e.t.Errorf("%d pending snapshots leaked: %+v", n, e.snapshots())
	}
	if l := e.hostLeaks(); len(l) > 0 {
		e.t.Errorf("host mounts leaked: %v", l)
	}
	if ents, err := os.ReadDir(filepath.Join(e.stateDir, "staging")); err == nil && len(ents) > 0 {
		e.t.Errorf("staging directories leaked: %v", ents)
	}
}

// mountedIn reports whether path is a mount point inside machine m.
func mountedIn(t testing.TB, m *machinetest.Machine, path string) bool {
	t.Helper()
	out := m.Sh(t, machinetest.Root, "grep -c ' "+path+" ' /proc/1/mountinfo || true")
	return out != "0"
}

// eventually polls cond until it holds or limit passes (a bound on a
// hang, not a speed assertion).
func eventually(t testing.TB, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last string
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last: %s", limit, what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// names of the snapshots in snaps that are not the default volume.
func names(snaps []store.Snapshot) []string {
	var out []string
	for _, s := range snaps {
		if !s.Default {
			out = append(out, s.Name)
		}
	}
	slices.Sort(out)
	return out
}

// depsNone are the default dependencies: env.serve fills in the test's
// store and log.
func depsNone() agent.Deps { return agent.Deps{} }

// owner is the uid:gid of p on disk.
func owner(t testing.TB, p string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
}

// sysexecRun runs a host command and returns its output, failed or not.
func sysexecRun(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	res, err := sysexec.Host{}.Run(context.Background(), sysexec.Cmd{Name: name, Args: args, Timeout: time.Minute})
	return string(res.Stdout), err
}
