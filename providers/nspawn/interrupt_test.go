package nspawn

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/internal/fsutil"
	"github.com/rigplan/rigplan/providers"
)

// An apply interrupted (Ctrl-C) while it waits for a busy machine's job
// stops waiting at once, however long job_wait is: the machine keeps its
// job and its old root, the hold is removed, and so is the new root
// unpacked beside the old one.
func TestWaitInterrupted(t *testing.T) {
	e := newMachine(t)
	e.busy()

	e.writeImage(fileEntry("etc/new", "v2\n"))
	cfg := e.Config(runner, strings.Replace(originalHCL, "volatile", "job_wait = \"1h\"\n  volatile", 1))
	prior := e.Prior(runner, cfg)
	plan := e.p.Plan(context.Background(), &providers.PlanRequest{Addr: runner, Config: cfg, Prior: prior})
	interrupted := make(chan struct{})
	close(interrupted)
	done := make(chan *providers.ApplyResponse, 1)
	go func() {
		done <- e.p.Apply(context.Background(), &providers.ApplyRequest{Addr: runner, Action: providers.Update, Prior: prior, Planned: plan.Planned, Interrupted: interrupted})
	}()
	var resp *providers.ApplyResponse
	select {
	case resp = <-done:
	case <-time.After(time.Minute):
		t.Fatal("apply still waits for the job after the interrupt")
	}
	if !resp.Diagnostics.HasErrors() || !strings.Contains(resp.Diagnostics.Error(), "the apply was interrupted while") ||
		!strings.Contains(resp.Diagnostics.Error(), "apply again to replace it") {
		t.Errorf("apply interrupted during the wait: %v", resp.Diagnostics)
	}
	if ok, _ := fsutil.Exists(filepath.Join(e.root, machineDir, "etc/new")); ok {
		t.Error("the root of a busy machine was replaced")
	}
	if calls := strings.Join(e.fake.Calls(t), "\n"); strings.Contains(calls, "stop --") {
		t.Errorf("apply stopped a busy machine:\n%s", calls)
	}
	e.noLeftovers()
}

// An apply killed half-way through an unpack (or a wait) leaves the new
// root's stage beside the machine's root. The next apply removes it even
// when it does not unpack again: here the configuration went back to
// what the machine has.
func TestStaleStageRemoved(t *testing.T) {
	e := newMachine(t)
	stage := filepath.Join(e.root, "/var/lib/machines/.github-runner.rigplan-new-123")
	e.mkdir("/var/lib/machines/.github-runner.rigplan-new-123/etc")
	if a := e.MustConverge(runner, e.Config(runner, strings.Replace(originalHCL, `"try-host"`, `"host"`, 1))); a != providers.Update {
		t.Fatalf("new settings: %v, want update", a)
	}
	if _, err := os.Stat(stage); err == nil {
		t.Errorf("%s is left after an apply", stage)
	}
}

// newMachine is the original setup's machine, applied.
func newMachine(t *testing.T) *env {
	t.Helper()
	requireRoot(t)
	e := newEnv(t)
	e.writeImage()
	e.mkdir("/run/rigplan-cache")
	e.MustConverge(runner, e.Config(runner, originalHCL))
	return e
}

// busy fakes a job in the machine: a Runner.Worker in its cgroup.
func (e *env) busy() {
	e.t.Helper()
	cg := "/sys/fs/cgroup/machine.slice/" + unitName + "/payload/system.slice/runner.service"
	e.mkdir(cg)
	e.mkdir("/proc/4242")
	for p, s := range map[string]string{cg + "/cgroup.procs": "4242\n", "/proc/4242/comm": "Runner.Worker\n"} {
		if err := os.WriteFile(filepath.Join(e.root, p), []byte(s), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
}

// noLeftovers fails the test if a stage or the hold is left.
func (e *env) noLeftovers() {
	e.t.Helper()
	if m, _ := filepath.Glob(filepath.Join(e.root, "/var/lib/machines/.github-runner.rigplan-*")); len(m) > 0 {
		e.t.Errorf("left behind: %v", m)
	}
	if ok, _ := fsutil.Exists(filepath.Join(e.root, holdPath)); ok {
		e.t.Errorf("the hold %s is left", holdPath)
	}
}
