package inject

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeHost is a fake /proc and unified cgroup tree, for the decisions
// Identify and Lookup make. The real tests (identify_test.go) use real
// machines.
type fakeHost struct {
	t          *testing.T
	proc, cgfs string
}

func newFakeHost(t *testing.T) *fakeHost {
	d := t.TempDir()
	h := &fakeHost{t: t, proc: filepath.Join(d, "proc"), cgfs: filepath.Join(d, "cgroup")}
	for _, p := range []string{h.proc, h.cgfs} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// add makes a process: its cgroup (and cgroup.procs entry), NSpid, pid
// namespace and start time.
func (h *fakeHost) add(pid int, cg string, nspid []int, pidns string) {
	h.t.Helper()
	dir := filepath.Join(h.proc, fmt.Sprint(pid))
	ns := make([]string, len(nspid))
	for i, n := range nspid {
		ns[i] = fmt.Sprint(n)
	}
	files := map[string]string{
		"cgroup": "12:pids:/\n1:name=systemd:" + cg + "\n0::" + cg + "\n",
		"status": "Name:\tsh\nPid:\t" + fmt.Sprint(pid) + "\nNSpid:\t" + strings.Join(ns, "\t") + "\nUid:\t0\t0\t0\t0\n",
		"stat":   fmt.Sprintf("%d (sh) S 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %d 0 0", pid, 1000+pid),
	}
	if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o755); err != nil {
		h.t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := os.Symlink("pid:["+pidns+"]", filepath.Join(dir, "ns", "pid")); err != nil {
		h.t.Fatal(err)
	}
	cgdir := filepath.Join(h.cgfs, cg)
	if err := os.MkdirAll(cgdir, 0o755); err != nil {
		h.t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(cgdir, "cgroup.procs"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	fmt.Fprintln(f, pid)
	f.Close()
}

const (
	ciUnit  = "/machine.slice/systemd-nspawn@ci.service"
	hostNS  = "4026531836"
	ciNS    = "4026532182"
	innerNS = "4026532999"
)

// ciMachine is a fake host with a declared-looking machine "ci": its
// nspawn supervisor, its leader (pid 100, PID 1 inside), a job process
// (pid 200), and a container the job runs (init pid 300, process 301).
func ciMachine(t *testing.T) *fakeHost {
	h := newFakeHost(t)
	h.add(1, "/init.scope", []int{1}, hostNS)
	h.add(50, "/user.slice/user-1000.slice/session-1.scope", []int{50}, hostNS)
	h.add(99, ciUnit+"/supervisor", []int{99}, hostNS)
	h.add(100, ciUnit+"/payload", []int{100, 1}, ciNS)
	h.add(200, ciUnit+"/payload/system.slice/runner.service", []int{200, 42}, ciNS)
	h.add(300, ciUnit+"/payload/user.slice/podman.scope", []int{300, 57, 1}, innerNS)
	h.add(301, ciUnit+"/payload/user.slice/podman.scope", []int{301, 58, 2}, innerNS)
	return h
}

func (h *fakeHost) identifier(machines map[string][]string) *Identifier {
	return &Identifier{Machines: machines, ProcRoot: h.proc, CgroupRoot: h.cgfs}
}

func TestIdentifyFake(t *testing.T) {
	h := ciMachine(t)
	h.add(400, `/machine.slice/machine-other\x2dci.scope/payload`, []int{400, 1}, "4026533000")
	h.add(401, `/machine.slice/machine-other\x2dci.scope/payload`, []int{401, 9}, "4026533000")
	h.add(500, "/user.slice/user-1000.slice/user@1000.service/app.slice/systemd-nspawn@ci.service", []int{500, 1}, "4026533001")
	id := h.identifier(map[string][]string{"ci": {"/home/runner/cache"}, "other-ci": {"/cache"}})
	ctx := context.Background()

	for _, pid := range []int{200, 100} {
		m, err := id.identify(ctx, pid, nil)
		if err != nil {
			t.Fatalf("pid %d: %v", pid, err)
		}
		want := Machine{Name: "ci", Leader: 100, LeaderStart: 1100, Cgroup: ciUnit, Allowed: []string{"/home/runner/cache"}}
		if fmt.Sprint(m) != fmt.Sprint(want) {
			t.Errorf("pid %d: %+v, want %+v", pid, m, want)
		}
	}
	m, err := id.identify(ctx, 401, nil)
	if err != nil || m.Name != "other-ci" || m.Leader != 400 || m.Cgroup != `/machine.slice/machine-other\x2dci.scope` {
		t.Errorf("scope machine: %+v, %v", m, err)
	}

	for _, tc := range []struct {
		pid  int
		kind error
		want string
	}{
		{50, ErrRefused, "pid 50 is not in a declared machine (cgroup /user.slice/user-1000.slice/session-1.scope)"},
		{1, ErrRefused, "pid 1 is not in a declared machine (cgroup /init.scope)"},
		{500, ErrRefused, "pid 500 is not in a declared machine (cgroup /user.slice/user-1000.slice/user@1000.service/app.slice/systemd-nspawn@ci.service)"},
		{99, ErrRefused, `pid 99 is in machine "ci"'s cgroup but not in its pid namespace`},
		{301, ErrRefused, `pid 301 is in machine "ci"'s cgroup but not in its pid namespace`},
		{300, ErrRefused, `not in its pid namespace`},
		{777, ErrRefused, "pid 777 has exited"},
	} {
		_, err := id.identify(ctx, tc.pid, nil)
		if err == nil || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("pid %d: %v, want %v containing %q", tc.pid, err, tc.kind, tc.want)
		}
	}

	undeclared := h.identifier(map[string][]string{"other-ci": nil})
	if _, err := undeclared.identify(ctx, 200, nil); err == nil || !errors.Is(err, ErrRefused) ||
		err.Error() != `pid 200 is in machine "ci", which is not declared (cgroup `+ciUnit+`/payload/system.slice/runner.service)` {
		t.Errorf("undeclared: %v", err)
	}

	// The peer exits (or its pid is reused) while it is being identified.
	if _, err := id.identify(ctx, 200, func() error { return errors.New("ESRCH") }); err == nil || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "exited while being identified") {
		t.Errorf("peer gone: %v", err)
	}
}

func TestIdentifyFakeLeaderless(t *testing.T) {
	h := newFakeHost(t)
	h.add(99, ciUnit+"/supervisor", []int{99}, hostNS)
	h.add(200, ciUnit+"/payload", []int{200, 42}, ciNS)
	id := h.identifier(map[string][]string{"ci": nil})
	_, err := id.identify(context.Background(), 200, nil)
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), `machine "ci" has no leader`) {
		t.Errorf("no leader: %v", err)
	}

	// Two PID 1s at the same depth: do not guess.
	h.add(100, ciUnit+"/payload", []int{100, 1}, ciNS)
	h.add(101, ciUnit+"/payload/x", []int{101, 1}, "4026532183")
	_, err = id.identify(context.Background(), 200, nil)
	if err == nil || !strings.Contains(err.Error(), "more than one leader candidate") {
		t.Errorf("two leaders: %v", err)
	}
}

func TestLookupFake(t *testing.T) {
	h := ciMachine(t)
	h.add(400, `/machine.slice/machine-other\x2dci.scope/payload`, []int{400, 1}, "4026533000")
	id := h.identifier(map[string][]string{"ci": {"/a"}, "other-ci": nil, "down": nil})
	ctx := context.Background()
	if m, err := id.Lookup(ctx, "ci"); err != nil || m.Leader != 100 || m.Cgroup != ciUnit || m.Allowed[0] != "/a" {
		t.Errorf("Lookup(ci) = %+v, %v", m, err)
	}
	if m, err := id.Lookup(ctx, "other-ci"); err != nil || m.Leader != 400 {
		t.Errorf("Lookup(other-ci) = %+v, %v", m, err)
	}
	if _, err := id.Lookup(ctx, "down"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Lookup(down) = %v", err)
	}
	if _, err := id.Lookup(ctx, "nope"); err == nil || !strings.Contains(err.Error(), `machine "nope" is not declared`) {
		t.Errorf("Lookup(nope) = %v", err)
	}
}
