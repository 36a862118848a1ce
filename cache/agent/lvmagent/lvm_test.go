package lvmagent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/cache/store/lvmstore"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/testhost"
)

func TestMain(m *testing.M) { os.Exit(testhost.Main(m)) }

const (
	vg       = "vg0"
	home     = "/home/runner"
	cacheDir = home + "/cache"
	sockIn   = "/run/rigplan-cache/socket"
	request  = "mount " + cacheDir + "\n> linux dc5e8c\n> linux\n< linux dc5e8c\n"
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

// TestOriginalRequestLVM is package agent's TestOriginalRequest on LVM:
// the runner in one machine asks with the original ncat heredoc and gets
// a thin snapshot of the default volume (xfs, mounted idmapped), writes,
// powers off; the snapshot is sealed (its LV tags say so); a later
// machine's job gets a thin snapshot of it and sees what was written.
func TestOriginalRequestLVM(t *testing.T) {
	k := testhost.Kernel(t)
	machinetest.Require(t)
	disk := k.Disks()[0]
	sh(t, "pvcreate", "-q", disk)
	sh(t, "vgcreate", "-q", vg, disk)
	sh(t, "lvcreate", "-q", "--type", "thin-pool", "--size", "1G", "--name", "pool", vg)
	sh(t, "lvcreate", "-q", "--type", "thin", "--virtualsize", "1G", "--thinpool", vg+"/pool", "--name", "default")
	sh(t, "mkfs.xfs", "-q", "/dev/"+vg+"/default")
	mnt := t.TempDir()
	if err := unix.Mount("/dev/"+vg+"/default", mnt, "xfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "from-default"), []byte("default\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(mnt, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if err := unix.Unmount(mnt, 0); err != nil {
		t.Fatal(err)
	}
	st, err := lvmstore.New(sysexec.Host{}, lvmstore.Config{Default: vg + "/default", Namespace: "friend"})
	if err != nil {
		t.Fatal(err)
	}

	sockDir, err := os.MkdirTemp("", "rpc")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	os.Chmod(sockDir, 0o755)
	names := []string{fmt.Sprintf("rt-lvm-%d-a", os.Getpid()), fmt.Sprintf("rt-lvm-%d-b", os.Getpid())}
	stateDir := filepath.Join(t.TempDir(), "state")
	cfg := agent.Config{
		Socket: filepath.Join(sockDir, "socket"), StateDir: stateDir, RetentionInterval: -1,
		Machines: map[string][]string{names[0]: {home}, names[1]: {home}},
	}
	a, err := agent.New(cfg, agent.Deps{Store: st, Notify: func(string) error { return nil },
		Log: slog.New(slog.NewTextHandler(tlog{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := agent.Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	start := func(name string) *machinetest.Machine {
		m := machinetest.Start(t, machinetest.Options{Name: name, BindReadOnly: []machinetest.Bind{{Host: sockDir, Machine: filepath.Dir(sockIn)}}})
		m.Sh(t, machinetest.Root, "mkdir -p "+home+" && chown 1000:1000 "+home)
		return m
	}
	ask := func(m *machinetest.Machine) protocol.MountResult {
		t.Helper()
		var out string
		for range 100 { // the agent may still be starting
			res, _ := m.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner, Args: []string{"ncat", "-U", sockIn}, Stdin: strings.NewReader(request)})
			if out = string(res.Stdout); out != "" {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		resp, err := protocol.ReadResponse(strings.NewReader(out), 0)
		if err != nil {
			t.Fatalf("answer %q: %v", out, err)
		}
		r, err := protocol.ParseMountResult(resp)
		if err != nil {
			t.Fatalf("answer %q: %v", out, err)
		}
		return r
	}
	find := func(name string) store.Snapshot {
		snaps, err := st.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range snaps {
			if s.Name == name {
				return s
			}
		}
		return store.Snapshot{}
	}

	first := start(names[0])
	m1 := ask(first)
	if !m1.Default {
		t.Fatalf("first job: %+v, want a copy of the default volume", m1)
	}
	if got := first.Sh(t, machinetest.Runner, "cat "+cacheDir+"/from-default && echo built > "+cacheDir+"/artifact && stat -c %u "+cacheDir+"/artifact"); got != "default\n1000" {
		t.Errorf("the runner sees %q", got)
	}
	if s := find(m1.Snapshot); s.State != store.InUse || strings.Join(s.Annotations, " ") != "dc5e8c linux" {
		t.Errorf("in the store: %+v", s)
	}
	if tags := sh(t, "lvs", "--noheadings", "-o", "lv_tags", vg+"/"+m1.Snapshot); !strings.Contains(tags, "friend:cache:linux") || !strings.Contains(tags, "friend:state:in-use") {
		t.Errorf("LV tags: %s", tags)
	}
	pctx, pcancel := context.WithTimeout(context.Background(), time.Minute)
	defer pcancel()
	if err := first.PowerOff(pctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); find(m1.Snapshot).State != store.Sealed; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the snapshot was not sealed after its machine exited: %+v", find(m1.Snapshot))
		}
	}

	second := start(names[1])
	m2 := ask(second)
	if m2.Default || strings.Join(m2.Criterion, " ") != "linux dc5e8c" || find(m2.Snapshot).Origin != m1.Snapshot {
		t.Fatalf("second job: %+v (origin %q), want a thin snapshot of %s", m2, find(m2.Snapshot).Origin, m1.Snapshot)
	}
	if got := second.Sh(t, machinetest.Runner, "cat "+cacheDir+"/artifact"); got != "built" {
		t.Errorf("the second job reads %q, want what the first wrote", got)
	}
	// Nothing of the agent's on the host: no staging mount, no pending LV.
	if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), stateDir) {
		t.Errorf("a staging mount leaked:\n%s", b)
	}
	for _, s := range func() []store.Snapshot { s, _ := st.List(context.Background()); return s }() {
		if s.State == store.Pending {
			t.Errorf("a pending snapshot leaked: %+v", s)
		}
	}
	if err := second.PowerOff(pctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); find(m2.Snapshot).State != store.Sealed; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the second snapshot was not sealed: %+v", find(m2.Snapshot))
		}
	}
}
