package lvmagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/cache/store/lvmstore"
	"github.com/rigplan/rigplan/internal/mountinfo"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/testhost"
)

func TestMain(m *testing.M) { os.Exit(testhost.Main(m)) }

// The world of every test here: LVM objects in the test kernel, the
// paths inside each machine, and the tag namespace of the original setup.
const (
	vg        = "vg0"
	poolLV    = "pool"
	defaultLV = "default"
	namespace = "friend" // friend:snapshot, friend:cache:TERM, friend:state:STATE
	home      = "/home/runner"
	cacheDir  = home + "/cache"
	sockIn    = "/run/rigplan-cache/socket" // the agent's socket directory is bound here
	// defaultFile is in the default volume: every fresh cache starts with it.
	defaultFile = "from-default"
)

func sh(t testing.TB, name string, args ...string) string {
	t.Helper()
	res, err := sysexec.Host{}.Run(context.Background(), sysexec.Cmd{Name: name, Args: args, Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(res.Stdout))
}

// tlog writes the agent's log lines to the test's log.
type tlog struct{ t testing.TB }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// pool says how big the thin pool and the default volume are, as
// lvcreate's sizes ("256M", "2G"). A default volume larger than the pool
// lets one job fill the pool through its snapshot.
type pool struct {
	size, volume string
	// errorWhenFull makes dm-thin fail writes at once when the pool has
	// no room (lvchange --errorwhenfull y, as the project's examples set
	// it) instead of queueing them for its no_space_timeout.
	errorWhenFull bool
}

// env is one test's world in the test kernel: the volume group vg0 on
// the first scratch disk, its thin pool and the default volume (xfs,
// holding defaultFile, its root owned by the runner: uid 1000 in every
// machine, the mount is idmapped), the LVM store over them, the socket
// and state directories of an agent, and the names of the machines the
// agent declares.
type env struct {
	t        testing.TB
	store    *lvmstore.Store
	sockDir  string
	socket   string
	stateDir string
	// declared are the machine names the agent's configuration declares;
	// each may mount under home.
	declared []string
}

// newEnv makes the LVM objects p describes and an env with n declared
// machines. It skips without the test kernel or machines.
func newEnv(t testing.TB, p pool, n int) *env {
	t.Helper()
	k := testhost.Kernel(t)
	machinetest.Require(t)
	disk := k.Disks()[0]
	sh(t, "pvcreate", "-q", disk)
	sh(t, "vgcreate", "-q", vg, disk)
	sh(t, "lvcreate", "-q", "--type", "thin-pool", "--size", p.size, "--name", poolLV, vg)
	if p.errorWhenFull {
		sh(t, "lvchange", "-q", "--errorwhenfull", "y", vg+"/"+poolLV)
	}
	sh(t, "lvcreate", "-q", "--type", "thin", "--virtualsize", p.volume, "--thinpool", vg+"/"+poolLV, "--name", defaultLV)
	sh(t, "mkfs.xfs", "-q", "/dev/"+vg+"/"+defaultLV)
	mnt := t.TempDir()
	if err := unix.Mount("/dev/"+vg+"/"+defaultLV, mnt, "xfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, defaultFile), []byte("default\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(mnt, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if err := unix.Unmount(mnt, 0); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t}
	var err error
	if e.store, err = lvmstore.New(sysexec.Host{}, lvmstore.Config{Default: vg + "/" + defaultLV, Namespace: namespace}); err != nil {
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
	for i := range n {
		e.declared = append(e.declared, fmt.Sprintf("rt-lvm-%d-%c", os.Getpid(), 'a'+i))
	}
	return e
}

// serve runs an agent over e's store in this process until the test
// ends, configured for e and then by mod, and waits until it answers.
func (e *env) serve(mod func(*agent.Config)) {
	e.t.Helper()
	cfg := agent.Config{
		Socket: e.socket, StateDir: e.stateDir, Machines: map[string][]string{},
		RetentionInterval: -1,            // the tests say when retention runs
		RunnersRoot:       e.t.TempDir(), // no runner policies, whatever the host has
	}
	for _, n := range e.declared {
		cfg.Machines[n] = []string{home}
	}
	if mod != nil {
		mod(&cfg)
	}
	a, err := agent.New(cfg, agent.Deps{Store: e.store, Notify: func(string) error { return nil },
		Log: slog.New(slog.NewTextHandler(tlog{e.t}, nil))})
	if err != nil {
		e.t.Fatal(err)
	}
	ln, err := agent.Listen(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			e.t.Errorf("Serve: %v", err)
		}
	})
	// Serve answers once its start-up pass is done.
	eventually(e.t, time.Minute, "the agent to answer", func() (bool, string) {
		resp, err := e.try(&protocol.Request{Command: protocol.CommandEcho, Text: "ready"})
		if err != nil {
			return false, err.Error()
		}
		return resp.OK && slices.Equal(resp.Fields, []string{"ready"}), fmt.Sprintf("%+v", resp)
	})
}

// try sends req from the test process: root on the host, the operator.
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

// operator sends req as the host's operator and returns the answer.
func (e *env) operator(req *protocol.Request) *protocol.Response {
	e.t.Helper()
	resp, err := e.try(req)
	if err != nil {
		e.t.Fatalf("%s: %v", req.Command, err)
	}
	return resp
}

// machine starts declared machine i with the agent's socket directory
// bound in and the runner's home.
func (e *env) machine(i int) *machinetest.Machine {
	e.t.Helper()
	m := machinetest.Start(e.t, machinetest.Options{Name: e.declared[i],
		BindReadOnly: []machinetest.Bind{{Host: e.sockDir, Machine: filepath.Dir(sockIn)}}})
	m.Sh(e.t, machinetest.Root, "mkdir -p "+home+" && chown 1000:1000 "+home)
	return m
}

// ncat sends text from inside machine m, as the runner, the way the
// original setup's workflow step does, and returns what ncat printed.
func ncat(t testing.TB, m *machinetest.Machine, text string) string {
	t.Helper()
	res, err := m.Exec(context.Background(), machinetest.Cmd{
		UID: machinetest.Runner, Args: []string{"ncat", "-U", sockIn}, Stdin: strings.NewReader(text),
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

// okMount parses the ok line of a mount, failing t on anything else.
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
// one of want, and returns the reason.
func errorLine(t testing.TB, out string, want ...string) string {
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
	return resp.Reason
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
	e.t.Helper()
	for _, s := range e.snapshots() {
		if s.Name == name {
			return s, true
		}
	}
	return store.Snapshot{}, false
}

// waitState waits until snapshot name is in state st (or gone, for "")
// in the store, and in the agent's view: the store is written first,
// the view a moment later, and what a test asks the agent next depends
// on the view.
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
// (absent, for "").
func (e *env) viewHas(name string, st store.State) (string, bool) {
	resp, err := e.try(&protocol.Request{Command: protocol.CommandList})
	if err != nil || !resp.OK {
		return fmt.Sprintf("no answer: %v %+v", err, resp), false
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

// powerOff powers machine m off, as a runner's machine does after its
// job, and waits until the agent has sealed snapshot, the cache it had
// mounted.
func (e *env) powerOff(m *machinetest.Machine, snapshot string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.PowerOff(ctx); err != nil {
		e.t.Fatal(err)
	}
	e.waitState(snapshot, store.Sealed)
}

// maxFillMiB bounds what a filling job writes: more than the pool holds, less
// than its filesystem (the default volume's 2 GiB), so that the pool is
// what stops it.
const maxFillMiB = 1024

// fill has job m write 1 MiB files into its cache, each synced, until a
// write fails, and fails t unless the pool is what stopped it.
func (e *env) fill(m *machinetest.Machine) {
	e.t.Helper()
	res, _ := m.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner, Args: []string{"sh", "-c",
		"i=0; while [ $i -lt " + strconv.Itoa(maxFillMiB) + " ] && dd if=/dev/urandom of=" + cacheDir + "/fill-$i bs=1M count=1 conv=fsync status=none 2>/dev/null; do i=$((i+1)); done; echo $i"}})
	if n, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout))); err != nil || n >= maxFillMiB {
		e.t.Fatalf("the job wrote %q MiB without an error, want the pool to stop it", res.Stdout)
	} else {
		e.t.Logf("the job's write failed after %d MiB", n)
	}
	if u, err := e.store.Usage(context.Background()); err != nil || u.DataPercent < 100 {
		e.t.Fatalf("the pool once the job's writes failed: %v (%v), want 100%% data", u, err)
	}
}

// lv is what LVM itself says of an LV of vg0 (not the store's parser):
// its attributes and tags.
func lv(t testing.TB, name string) (attr, tags string) {
	t.Helper()
	f := strings.Fields(sh(t, "lvs", "--noheadings", "-o", "lv_attr,lv_tags", vg+"/"+name))
	if len(f) < 2 {
		return strings.Join(f, ""), ""
	}
	return f[0], f[1]
}

// noLeaks checks what every request must leave behind, whatever its
// outcome, as LVM and the host's mount table show it: no LV tagged
// pending, no host mount of the volume group's LVs, nothing mounted
// under the agent's state directory.
func (e *env) noLeaks() {
	e.t.Helper()
	out := sh(e.t, "lvs", "--noheadings", "-o", "lv_name,lv_tags", vg)
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, namespace+":state:pending") {
			e.t.Errorf("a pending LV leaked: %s", strings.TrimSpace(line))
		}
	}
	entries, err := mountinfo.Read("/proc/self/mountinfo")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range entries {
		if strings.HasPrefix(m.Target, e.stateDir+"/") || strings.Contains(m.Source, "/"+vg+"-") || strings.Contains(m.Source, "/"+vg+"/") {
			e.t.Errorf("a host mount leaked: %s from %s", m.Target, m.Source)
		}
	}
	if ents, err := os.ReadDir(filepath.Join(e.stateDir, "staging")); err == nil && len(ents) > 0 {
		e.t.Errorf("staging directories leaked: %v", ents)
	}
}

// eventually polls cond until it holds or limit passes (a bound on a
// hang, not a speed assertion).
func eventually(t testing.TB, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last: %s", limit, what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
