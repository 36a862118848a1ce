package inject_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
)

// TestMountIntoAMachineThatDies: the machine is killed after the agent
// identified the peer and before it mounts. Whatever step then fails,
// the client is told the machine is gone (ErrNotRunning, which the agent
// answers as the client's business), not that the agent failed.
//
// The hard case is the moment a killed leader is dead but not yet
// reaped: /proc/PID still names it, with its start time, but its
// namespaces are gone. The test holds it there by stopping the leader's
// parent (systemd-nspawn) before killing it.
func TestMountIntoAMachineThatDies(t *testing.T) {
	machinetest.Require(t)
	ctx := context.Background()
	noHostMountLeaks(t)
	dir := newLoopFS(t, "ext4").dir
	m, mach := startRunnerMachine(t, machinetest.Options{})
	runner := credOf(m, machinetest.Runner)

	parent := parentOf(t, m.Leader())
	if err := syscall.Kill(parent, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			syscall.Kill(parent, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	if err := syscall.Kill(m.Leader(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); procState(t, m.Leader()) != "Z"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the machine's leader %d is not a zombie after SIGKILL: state %s", m.Leader(), procState(t, m.Leader()))
		}
	}
	checkGone := func(t *testing.T, when string) {
		t.Helper()
		mustErr(t, inject.CheckTarget(ctx, mach, runner, cacheTarget), inject.ErrNotRunning, mach.Name, "gone")
		mustErr(t, inject.Mount(ctx, mach, runner, dir, cacheTarget), inject.ErrNotRunning, mach.Name, "gone")
		mustErr(t, inject.Unmount(ctx, mach, cacheTarget), inject.ErrNotRunning, mach.Name, "gone")
		_, err := inject.Mounts(ctx, mach)
		mustErr(t, err, inject.ErrNotRunning, mach.Name, "gone")
		if w, err := inject.WatchLeader(mach); err == nil {
			w.Close()
			t.Errorf("%s: WatchLeader succeeded", when)
		}
	}
	t.Run("killed, not yet reaped", func(t *testing.T) { checkGone(t, "killed") })

	resume()
	kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := m.Kill(kctx); err != nil {
		t.Fatal(err)
	}
	t.Run("reaped", func(t *testing.T) { checkGone(t, "reaped") })
}

// parentOf is pid's parent, from /proc/PID/status.
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "PPid:"); ok {
			ppid, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil {
				t.Fatalf("/proc/%d/status: %q", pid, line)
			}
			return ppid
		}
	}
	t.Fatalf("/proc/%d/status has no PPid", pid)
	return 0
}

// procState is the state letter of /proc/PID/stat ("R", "S", "Z"…), or
// "gone".
func procState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "gone"
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) == 0 {
		t.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return f[0]
}
