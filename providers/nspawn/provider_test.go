package nspawn

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/fsutil"
	"github.com/rigplan/rigplan/internal/golden"
	"github.com/rigplan/rigplan/providers"
)

const originalHCL = `machine "runner" {
  name          = "github-runner"
  image         = "/var/lib/rigplan/images/runner/oci"
  private_users = "570097664:131072"
  ownership     = "off"
  nested_podman = true
  volatile      = "overlay"
  read_only     = true
  bind_read_only = ["/run/rigplan-cache"]
  resolv_conf   = "replace-host"
  link_journal  = "try-host"
  unit_environment = { SYSTEMD_SECCOMP = "0" }
}
`

const (
	settingsPath = "/etc/systemd/nspawn/github-runner.nspawn"
	dropInPath   = "/etc/systemd/system/systemd-nspawn@github-runner.service.d/rigplan.conf"
	machineDir   = "/var/lib/machines/github-runner"
	unitName     = "systemd-nspawn@github-runner.service"
	holdPath     = "/run/systemd/system/systemd-nspawn@github-runner.service.d/rigplan.hold.conf"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("unpacking with shifted ownership needs root (chown to the machine's range)")
	}
}

func owner(t *testing.T, p string) (uint32, uint32, os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid, fi.Mode()
}

func TestLifecycle(t *testing.T) {
	requireRoot(t)
	e := newEnv(t)
	digest := e.writeImage()
	e.mkdir("/run/rigplan-cache")
	cfg := e.Config(runner, originalHCL)

	if a := e.MustConverge(runner, cfg); a != providers.Create {
		t.Fatalf("first apply: %v, want create", a)
	}
	golden.Check(t, "testdata/github-runner.nspawn", []byte(e.read(settingsPath)))
	golden.Check(t, "testdata/rigplan.conf", []byte(e.read(dropInPath)))
	if m := e.read("/var/lib/rigplan/machines/github-runner"); !strings.HasPrefix(m, markPrefix+"machine.runner\n") || !strings.Contains(m, digest) {
		t.Errorf("root mark is %q", m)
	}
	// Ownership shifted into the range, setuid kept.
	dir := filepath.Join(e.root, machineDir)
	for _, c := range []struct {
		path     string
		uid      uint32
		setuid   bool
		wantMode os.FileMode
	}{
		{"", 570097664, false, 0},
		{"etc/hostname", 570097664, false, 0},
		{"home/ghrunner", 570098664, false, 0},
		{"home/ghrunner/.profile", 570098664, false, 0},
		{"usr/bin/newuidmap", 570097664, true, 0},
	} {
		uid, gid, mode := owner(t, filepath.Join(dir, c.path))
		if uid != c.uid || gid != c.uid {
			t.Errorf("%s is owned by %d:%d, want %d:%d", c.path, uid, gid, c.uid, c.uid)
		}
		if c.setuid && mode&os.ModeSetuid == 0 {
			t.Errorf("%s lost its setuid bit: %v", c.path, mode)
		}
	}
	calls := strings.Join(e.fake.Calls(t), "\n")
	for _, want := range []string{"daemon-reload", "enable --quiet -- " + unitName, "start -- " + unitName} {
		if !strings.Contains(calls, want) {
			t.Errorf("calls lack %q:\n%s", want, calls)
		}
	}

	// Applied: no change.
	if a := e.MustConverge(runner, cfg); a != providers.NoOp {
		t.Errorf("second plan: %v, want no change", a)
	}

	// A hand edit of each file is drift, and apply puts it back.
	for _, edit := range []struct{ file, from, to, attr string }{
		{settingsPath, "ReadOnly=yes", "ReadOnly=no", "read_only"},
		{dropInPath, "Restart=always", "Restart=no", "restart"},
	} {
		p := filepath.Join(e.root, edit.file)
		b, _ := os.ReadFile(p)
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), edit.from, edit.to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		prior := e.Prior(runner, cfg)
		plan := e.p.Plan(context.Background(), &providers.PlanRequest{Addr: runner, Config: cfg, Prior: prior})
		if prior.GetAttr(edit.attr).RawEquals(plan.Planned.GetAttr(edit.attr)) {
			t.Errorf("editing %s does not show as a change of %s", edit.file, edit.attr)
		}
		if a := e.MustConverge(runner, cfg); a != providers.Update {
			t.Errorf("after editing %s: %v, want update", edit.file, a)
		}
		if !strings.Contains(e.read(edit.file), edit.from) {
			t.Errorf("apply did not restore %s", edit.file)
		}
	}

	// A new image replaces the root.
	newDigest := e.writeImage(fileEntry("etc/new", "v2\n"))
	if newDigest == digest {
		t.Fatal("the new image has the old digest")
	}
	if a := e.MustConverge(runner, cfg); a != providers.Update {
		t.Errorf("after a new image: %v, want update", a)
	}
	if _, err := os.Lstat(filepath.Join(dir, "etc/new")); err != nil {
		t.Errorf("the new root is not in place: %v", err)
	}
	if a := e.MustConverge(runner, cfg); a != providers.NoOp {
		t.Errorf("after replacing the root: %v, want no change", a)
	}

	// Another range: the root is unpacked again, shifted to it.
	moved := e.Config(runner, strings.Replace(originalHCL, "570097664:131072", "570228736:131072", 1))
	if a := e.MustConverge(runner, moved); a != providers.Update {
		t.Errorf("after a new range: %v, want update", a)
	}
	if uid, _, _ := owner(t, filepath.Join(dir, "home/ghrunner")); uid != 570228736+1000 {
		t.Errorf("after a new range, home/ghrunner is owned by %d, want %d", uid, 570228736+1000)
	}
	if a := e.MustConverge(runner, moved); a != providers.NoOp {
		t.Errorf("after a new range: second plan %v, want no change", a)
	}

	// Delete.
	prior := e.Prior(runner, moved)
	resp := e.p.Apply(context.Background(), &providers.ApplyRequest{Addr: runner, Action: providers.Delete, Prior: prior, Planned: cty.NullVal(prior.Type())})
	if resp.Diagnostics.HasErrors() {
		t.Fatalf("delete: %v", resp.Diagnostics)
	}
	for _, p := range []string{settingsPath, dropInPath, machineDir, "/var/lib/rigplan/machines/github-runner"} {
		if ok, _ := fsutil.Exists(filepath.Join(e.root, p)); ok {
			t.Errorf("%s is still there after delete", p)
		}
	}
	if objs, _ := e.Refresh(providers.Instance{Addr: runner, Config: moved}); len(objs) != 0 {
		t.Errorf("refresh after delete finds %v", objs)
	}
}

func TestUnownedMachineRefused(t *testing.T) {
	e := newEnv(t)
	e.writeImage()
	e.mkdir("/run/rigplan-cache")
	e.mkdir(machineDir + "/etc")
	cfg := e.Config(runner, originalHCL)
	objs, _ := e.Refresh(providers.Instance{Addr: runner, Config: cfg})
	if o, ok := objs[runner]; !ok || o.Managed || !o.State.IsNull() {
		t.Errorf("refresh reports the hand-made machine as %+v, want an unmanaged object", o)
	}
	resp := e.p.Apply(context.Background(), &providers.ApplyRequest{Addr: runner, Action: providers.Create, Prior: cty.NullVal(e.p.schema.ImpliedType()),
		Planned: e.p.Plan(context.Background(), &providers.PlanRequest{Addr: runner, Config: cfg, Prior: cty.NullVal(e.p.schema.ImpliedType())}).Planned})
	if !resp.Diagnostics.HasErrors() || !strings.Contains(resp.Diagnostics.Error(), "not managed by rigplan") {
		t.Errorf("apply over a hand-made machine: %v", resp.Diagnostics)
	}
	if _, err := os.Stat(filepath.Join(e.root, machineDir, "etc")); err != nil {
		t.Errorf("the hand-made machine was touched: %v", err)
	}
	if ok, _ := fsutil.Exists(filepath.Join(e.root, settingsPath)); ok {
		t.Error("a settings file was written next to a machine rigplan does not own")
	}
}

func TestMissingBindSource(t *testing.T) {
	e := newEnv(t)
	e.writeImage()
	cfg := e.Config(runner, originalHCL)
	null := cty.NullVal(e.p.schema.ImpliedType())
	plan := e.p.Plan(context.Background(), &providers.PlanRequest{Addr: runner, Config: cfg, Prior: null})
	if !strings.Contains(plan.Diagnostics.Error(), "Bind source missing") || plan.Diagnostics.HasErrors() {
		t.Errorf("plan with a missing bind source: %v (want a warning)", plan.Diagnostics)
	}
	resp := e.p.Apply(context.Background(), &providers.ApplyRequest{Addr: runner, Action: providers.Create, Prior: null, Planned: plan.Planned})
	if !resp.Diagnostics.HasErrors() || !strings.Contains(resp.Diagnostics.Error(), "/run/rigplan-cache") {
		t.Errorf("apply with a missing bind source: %v", resp.Diagnostics)
	}
	if ok, _ := fsutil.Exists(filepath.Join(e.root, machineDir)); ok {
		t.Error("apply unpacked a machine it then could not start")
	}
}

func TestNspawnMissingFailsThePlan(t *testing.T) {
	e := newEnv(t)
	e.writeImage()
	e.mkdir("/run/rigplan-cache")
	if err := os.Remove(filepath.Join(e.root, "lib/systemd/system/systemd-nspawn@.service")); err != nil {
		t.Fatal(err)
	}
	plan := e.p.Plan(context.Background(), &providers.PlanRequest{Addr: runner, Config: e.Config(runner, originalHCL), Prior: cty.NullVal(e.p.schema.ImpliedType())})
	if msg := plan.Diagnostics.Error(); !plan.Diagnostics.HasErrors() || !strings.Contains(msg, "systemd-nspawn is not installed") || !strings.Contains(msg, "systemd-container") {
		t.Errorf("plan on a host without systemd-nspawn: %v", plan.Diagnostics)
	}
}

func TestOverlappingRanges(t *testing.T) {
	e := newEnv(t)
	a := e.Config(runner, originalHCL)
	other := runner
	other.Name = "other"
	b := e.Config(other, strings.NewReplacer(`"runner"`, `"other"`, "github-runner", "other-runner", "570097664:131072", "570163200:131072").Replace(originalHCL))
	resp := e.p.Refresh(context.Background(), &providers.RefreshRequest{Desired: []providers.Instance{{Addr: runner, Config: a}, {Addr: other, Config: b}}})
	if !resp.Diagnostics.HasErrors() || !strings.Contains(resp.Diagnostics.Error(), "Overlapping user ranges") {
		t.Errorf("overlapping ranges: %v", resp.Diagnostics)
	}
	c := e.Config(other, strings.NewReplacer(`"runner"`, `"other"`, "github-runner", "other-runner", "570097664:131072", "570228736:131072").Replace(originalHCL))
	resp = e.p.Refresh(context.Background(), &providers.RefreshRequest{Desired: []providers.Instance{{Addr: runner, Config: a}, {Addr: other, Config: c}}})
	if resp.Diagnostics.HasErrors() || len(resp.Diagnostics) > 0 {
		t.Errorf("adjacent ranges refused: %v", resp.Diagnostics)
	}
	// A picked range may land on a fixed one: nspawn only avoids ranges
	// of running machines.
	d := e.Config(other, strings.NewReplacer(`"runner"`, `"other"`, "github-runner", "other-runner", `"570097664:131072"`, `"pick"`,
		`"off"`, `"auto"`, "read_only     = true", "read_only = false", "nested_podman = true", "nested_podman = false").Replace(originalHCL))
	resp = e.p.Refresh(context.Background(), &providers.RefreshRequest{Desired: []providers.Instance{{Addr: runner, Config: a}, {Addr: other, Config: d}}})
	if resp.Diagnostics.HasErrors() || !strings.Contains(resp.Diagnostics.Error(), "Picked and fixed user ranges may collide") {
		t.Errorf("a picked range beside a fixed one: %v", resp.Diagnostics)
	}
}

// TestBusy fakes a machine's cgroup and /proc under the root: a
// Runner.Worker process makes the machine busy, and plan says so.
func TestBusy(t *testing.T) {
	requireRoot(t)
	e := newEnv(t)
	e.writeImage()
	e.mkdir("/run/rigplan-cache")
	cfg := e.Config(runner, originalHCL)
	e.MustConverge(runner, cfg)

	cg := "/sys/fs/cgroup/machine.slice/" + unitName + "/payload/system.slice/runner.service"
	e.mkdir(cg)
	e.mkdir("/proc/4242")
	write := func(p, s string) {
		if err := os.WriteFile(filepath.Join(e.root, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(cg+"/cgroup.procs", "4242\n")
	write("/proc/4242/comm", "Runner.Listener\n")
	if e.Prior(runner, cfg).GetAttr("busy").True() {
		t.Error("a listening runner counts as busy")
	}
	write("/proc/4242/comm", "Runner.Worker\n")
	prior := e.Prior(runner, cfg)
	if !prior.GetAttr("busy").True() {
		t.Fatal("a running job does not make the machine busy")
	}
	// New settings alone: written, but a busy machine is not restarted.
	e.fake.ResetCalls(t)
	edited := e.Config(runner, strings.Replace(originalHCL, `"try-host"`, `"host"`, 1))
	if a := e.MustConverge(runner, edited); a != providers.Update {
		t.Errorf("new settings: %v, want update", a)
	}
	if !strings.Contains(e.read(settingsPath), "LinkJournal=host\n") {
		t.Error("new settings were not written to a busy machine's file")
	}
	if calls := strings.Join(e.fake.Calls(t), "\n"); strings.Contains(calls, "restart") || strings.Contains(calls, "stop") {
		t.Errorf("a busy machine was restarted for new settings:\n%s", calls)
	}
	e.fake.ResetCalls(t)

	// A new image: plan warns, and apply waits no longer than job_wait.
	e.writeImage(fileEntry("etc/new", "v2\n"))
	busyCfg := e.Config(runner, strings.Replace(originalHCL, "volatile", "job_wait = \"0s\"\n  volatile", 1))
	prior = e.Prior(runner, busyCfg)
	plan := e.p.Plan(context.Background(), &providers.PlanRequest{Addr: runner, Config: busyCfg, Prior: prior})
	if !strings.Contains(plan.Diagnostics.Error(), "Machine busy") {
		t.Errorf("plan for a busy machine: %v", plan.Diagnostics)
	}
	var progress bytes.Buffer
	e.p.opts.Progress = &progress
	resp := e.p.Apply(context.Background(), &providers.ApplyRequest{Addr: runner, Action: providers.Update, Prior: prior, Planned: plan.Planned})
	if !resp.Diagnostics.HasErrors() || !strings.Contains(resp.Diagnostics.Error(), "still runs a job") {
		t.Errorf("apply on a busy machine: %v", resp.Diagnostics)
	}
	e.p.opts.Progress = nil
	if got := progress.String(); !strings.Contains(got, "machine.runner: unpacked 1 layers") || !strings.Contains(got, "waiting up to 0s") {
		t.Errorf("progress of an unpack and a wait for a job:\n%s", got)
	}
	if ok, _ := fsutil.Exists(filepath.Join(e.root, machineDir, "etc/new")); ok {
		t.Error("the root of a busy machine was replaced")
	}
	calls := strings.Join(e.fake.Calls(t), "\n")
	if strings.Contains(calls, "stop") {
		t.Error("apply stopped a busy machine")
	}
	// While it waited, a runtime drop-in kept systemd from booting the
	// machine again after the job; it is gone after the wait.
	if strings.Count(calls, "daemon-reload") != 2 {
		t.Errorf("apply waiting for a job did not hold and release the machine (two daemon-reloads):\n%s", calls)
	}
	if ok, _ := fsutil.Exists(filepath.Join(e.root, holdPath)); ok {
		t.Errorf("%s left behind after the wait", holdPath)
	}
	// The job ends: apply goes ahead.
	write("/proc/4242/comm", "Runner.Listener\n")
	if a := e.MustConverge(runner, busyCfg); a != providers.Update {
		t.Errorf("after the job: %v", a)
	}
	if ok, _ := fsutil.Exists(filepath.Join(e.root, machineDir, "etc/new")); !ok {
		t.Error("the root was not replaced after the job")
	}
	// An apply killed while it waited leaves the hold: plan shows it as
	// drift, and the next apply removes it.
	e.mkdir(filepath.Dir(holdPath))
	write(holdPath, "[Service]\nRestart=no\n")
	held, warnings := e.Refresh(providers.Instance{Addr: runner, Config: busyCfg})
	if got := attrString(held[runner].State, "restart"); got != "no" || !strings.Contains(warnings.Error(), "Machine held") {
		t.Errorf("refresh of a held machine: restart %q, %v", got, warnings)
	}
	if a := e.MustConverge(runner, busyCfg); a != providers.Update {
		t.Errorf("a held machine: %v, want update", a)
	}
	if ok, _ := fsutil.Exists(filepath.Join(e.root, holdPath)); ok {
		t.Errorf("apply did not remove the hold %s", holdPath)
	}
	// Idle, new settings restart the machine.
	e.fake.ResetCalls(t)
	e.MustConverge(runner, e.Config(runner, strings.Replace(originalHCL, `"try-host"`, `"no"`, 1)))
	if calls := strings.Join(e.fake.Calls(t), "\n"); !strings.Contains(calls, "restart -- "+unitName) {
		t.Errorf("an idle machine was not restarted for new settings:\n%s", calls)
	}
}
