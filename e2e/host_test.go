package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/internal/ghapi"
	"github.com/rigplan/rigplan/providers/github/githubtest"
	"github.com/rigplan/rigplan/testhost"
)

// The example's names, as an operator reads them on the host.
const (
	machineName = "github-runner"
	machineUnit = "systemd-nspawn@" + machineName + ".service"
	agentUnit   = "rigplan-cache-friend.service"
	vg          = "banana"
	rootBase    = 570097664 // root in the machine, on the host
	repository  = "acme/widgets"
	tokenFile   = "/etc/rigplan/github-token"
	githubToken = "ghp_rigplanEndToEnd0123456789abcdef"
)

// TestRunnerHost brings the bare test host to examples/lvm-cache-runner's
// runner host with one apply, runs three jobs through the ephemeral
// machine, the cache carried from each to the next by the agent's
// snapshots, rolls out a new image between jobs, and destroys it all.
func TestRunnerHost(t *testing.T) {
	k := testhost.SystemdHost(t)
	n := newNarrator(t)
	h := newHost(t, k.Disks())
	v1, v2 := filepath.Join(h.work, "image-1"), filepath.Join(h.work, "image-2")
	writeImage(t, v1, "1")
	writeImage(t, v2, "2")
	h.configure(v1)

	n.step("the sandbox: a User-Mode Linux kernel running systemd, its own disks, a local GitHub")
	n.printf("    scratch disks %s (sparse), never your own; GitHub's API at %s\n", strings.Join(k.Disks(), " "), h.github.URL)
	n.printf("    the configuration: examples/lvm-cache-runner, its image from an OCI layout and its runners on the local GitHub\n")
	n.step("rigplan validate: checks the files, never touches the host")
	n.show(h.rigplan(0, "validate", h.config))
	n.step("rigplan plan: a bare host, so everything is to be created")
	n.show(h.rigplan(2, "plan", "-detailed-exitcode", h.config))
	n.step("rigplan apply: from bare disks to a runner machine waiting for its first job")
	out := h.rigplan(0, "apply", "-auto-approve", h.config)
	n.show(out)
	if !strings.Contains(out, "Apply complete! Resources: 7 added, 0 changed, 0 destroyed.") {
		t.Fatalf("apply on a bare host:\n%s", out)
	}
	h.checkRunning()
	n.step("rigplan plan again: the host matches the files (exit 0)")
	n.show(h.rigplan(0, "plan", "-detailed-exitcode", h.config))

	boot := h.waitBoot(1)
	want(t, boot, "image 1", "root clean")
	h.checkRegistered(boot)

	// The lockfiles' hash, as hashFiles('Cargo.lock','Cargo.toml') gives it.
	lock1, lock2 := strings.Repeat("a1", 32), strings.Repeat("b2", 32)
	n.step("three jobs, each a boot of the ephemeral machine running the workflow's cache step")
	j := h.runJob(n, 1, "main", lock1)
	if j.criterion != "default" || j.history != "" {
		t.Errorf("job 1, the first ever: cache from %q with %q in it, want the default volume, empty", j.criterion, j.history)
	}
	boot = h.waitBoot(2)
	want(t, boot, "image 1", "root clean") // the job's write to the root is gone
	h.checkRegistered(boot)
	j = h.runJob(n, 2, "main", lock1)
	if j.criterion != "linux "+lock1 || j.history != "job 1" {
		t.Errorf("job 2, same lockfiles: cache from %q with %q in it, want the lockfile criterion and job 1's data", j.criterion, j.history)
	}
	h.waitBoot(3)

	n.step("a new image, rolled out between jobs")
	h.configure(v2)
	n.show(h.rigplan(2, "plan", "-detailed-exitcode", h.config))
	n.show(h.rigplan(0, "apply", "-auto-approve", h.config))
	boot = h.waitBoot(4)
	want(t, boot, "image 2", "root clean")
	if _, err := os.Stat(filepath.Join(reports, "taken-3")); err == nil {
		t.Error("boot 3 took a job: the rollout should have replaced the root of an idle machine")
	}
	// Boot 3 registered a runner that never got a job: GitHub keeps it,
	// offline. rigplan plans its deletion, and apply deletes it.
	n.step("the runner boot 3 registered, never used: rigplan's plan finds it, apply deletes it")
	out = h.rigplan(2, "plan", "-detailed-exitcode", h.config)
	n.show(out)
	if boot3 := h.registered[3]; !strings.Contains(out, boot3) {
		t.Errorf("plan after the rollout does not name boot 3's runner %s:\n%s", boot3, out)
	}
	h.rigplan(0, "apply", "-auto-approve", h.config)
	if h.onGitHub(h.registered[3]) {
		t.Errorf("apply left boot 3's runner %s on GitHub", h.registered[3])
	}
	n.show(h.rigplan(0, "plan", "-detailed-exitcode", h.config))
	h.checkRegistered(boot)

	j = h.runJob(n, 3, "main", lock2)
	if j.criterion != "linux main" || j.history != "job 1 job 2" {
		t.Errorf("job 3, new lockfiles: cache from %q with %q in it, want the branch criterion and jobs 1 and 2's data", j.criterion, j.history)
	}
	want(t, h.waitBoot(5), "image 2", "root clean")

	n.step("rigplan destroy -allow-data-loss: removes what rigplan made, and nothing else")
	out = h.rigplan(0, "destroy", "-allow-data-loss", "-auto-approve", h.config)
	n.show(out)
	h.checkDestroyed()
}

// job is what a job reported.
type job struct {
	criterion string // the criterion that found its cache, or "default"
	history   string // what earlier jobs left in the cache
}

// runJob hands job n to the machine: the workflow's cache step for
// branch and lock (the lockfiles' hash), then it reads what the cache
// holds, adds to it, and writes into the machine's root. Once the job is
// done, GitHub removes the ephemeral runner, as it does after a job.
func (h *host) runJob(n *narrator, no int, branch, lock string) job {
	t := h.t
	t.Helper()
	script := h.cacheStep(branch, lock) + fmt.Sprintf(`
echo "history:" $(cat cache/history 2>/dev/null)
echo "job %d" >>cache/history
echo "owner $(stat -c %%u:%%g cache/history)"
touch left-by-job
`, no)
	mkfile(t, filepath.Join(reports, fmt.Sprintf("job-%d.sh", no)), script, rootBase)
	out := h.waitFile(fmt.Sprintf("job-%d.out", no))
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(l, " ")
		if f := strings.Split(l, "\t"); len(f) == 4 && f[0] == "ok" {
			k, v = "ok", l
		}
		lines[strings.TrimSuffix(k, ":")] = v
	}
	if lines["exit"] != "0" || lines["owner"] != fmt.Sprintf("%d:%d", runnerUID, runnerUID) {
		t.Fatalf("job %d:\n%s", no, out)
	}
	f := strings.Split(lines["ok"], "\t")
	if len(f) != 4 || f[1] != "/home/ghrunner/cache" {
		t.Fatalf("job %d's cache step got no cache:\n%s", no, out)
	}
	// The answer names the criterion as the request gave it: "> TERMS".
	j := job{criterion: strings.TrimPrefix(f[2], "> "), history: lines["history"]}
	// The machine powers off; the agent seals what the job left.
	h.waitSealed(no)
	took := h.restoreTimes()
	if len(took) < no {
		t.Fatalf("the agent logged %d mount requests after job %d", len(took), no)
	}
	n.job(no, branch, lock, j, took[no-1])
	h.jobDone(no)
	return j
}

// cacheStep is the cache step of the example's workflow, its expressions
// replaced as GitHub would for branch and the lockfiles' hash.
func (h *host) cacheStep(branch, lock string) string {
	t := h.t
	t.Helper()
	step := workflowStep(t, filepath.Join(example, "workflow", "build.yml"), "cache")
	step = strings.ReplaceAll(step, "${{ github.ref_name }}", branch)
	step = strings.ReplaceAll(step, "${{ hashFiles('Cargo.lock','Cargo.toml') }}", lock)
	if strings.Contains(step, "${{") {
		t.Fatalf("the workflow's cache step has an expression the test does not replace:\n%s", step)
	}
	return step
}

// jobDone does what GitHub does when an ephemeral runner's job ends:
// the runner is removed.
func (h *host) jobDone(no int) {
	t := h.t
	t.Helper()
	b, err := os.ReadFile(filepath.Join(reports, fmt.Sprintf("taken-%d", no)))
	if err != nil {
		t.Fatal(err)
	}
	var boot int
	fmt.Sscanf(string(b), "boot %d", &boot)
	name := h.registered[boot]
	for _, r := range h.github.Runners("repos/" + repository) {
		if r.Name == name {
			if err := h.api.DeleteRunner(context.Background(), h.scope, r.ID); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("job %d ran on boot %d, whose runner %q is not on GitHub", no, boot, name)
}

// checkRegistered checks that the machine's boot has its runner on
// GitHub, named after the boot, with the example's labels.
func (h *host) checkRegistered(boot map[string]string) {
	t := h.t
	t.Helper()
	if !strings.HasPrefix(boot["runner"], "runner configured") {
		t.Fatalf("the machine's runner-config: %q", boot["runner"])
	}
	inv := h.show(machineUnit, "InvocationID")
	name := machineName + "-" + inv[:8]
	for _, r := range h.github.Runners("repos/" + repository) {
		if r.Name != name {
			continue
		}
		for _, l := range []string{"self-hosted", "linux", "x64", "lvm-cache", "rigplan.runner.repository"} {
			// GitHub compares labels ignoring case, and spells its own
			// Linux and X64.
			if !slices.ContainsFunc(r.Labels, func(have string) bool { return strings.EqualFold(have, l) }) {
				t.Errorf("runner %s has labels %v, want %s among them", name, r.Labels, l)
			}
		}
		if !r.Ephemeral {
			t.Errorf("runner %s is not ephemeral", name)
		}
		h.registered[h.boots] = name
		return
	}
	t.Fatalf("no runner %s on GitHub for the machine's boot %s: %+v", name, inv, h.github.Runners("repos/"+repository))
}

func (h *host) onGitHub(name string) bool {
	return slices.ContainsFunc(h.github.Runners("repos/"+repository), func(r githubtest.Runner) bool { return r.Name == name })
}

// checkRunning checks what systemd reads from the files apply wrote.
func (h *host) checkRunning() {
	t := h.t
	t.Helper()
	for unit, want := range map[string]string{agentUnit: "active", machineUnit: "active"} {
		if got := h.show(unit, "ActiveState"); got != want {
			t.Errorf("%s is %s after apply, want %s\n%s", unit, got, want, journal(unit))
		}
	}
	if got := h.show(machineUnit, "Restart"); got != "always" {
		t.Errorf("%s has Restart=%s, want always", machineUnit, got)
	}
	lvs := h.run("lvs", "--noheadings", "-o", "lv_name,lv_size,lv_tags", "--units", "g", vg)
	if !strings.Contains(lvs, "friend-pool") || !strings.Contains(lvs, "friend-default") || !strings.Contains(lvs, "friend:default") {
		t.Errorf("LVM after apply:\n%s", lvs)
	}
}

// checkDestroyed checks that destroy removed what rigplan made, and left
// what it did not: another volume group, another machine's settings, the
// job reports, the token.
func (h *host) checkDestroyed() {
	t := h.t
	t.Helper()
	if out, err := exec.Command("vgs", vg).CombinedOutput(); err == nil {
		t.Errorf("volume group %s is still there after destroy:\n%s", vg, out)
	}
	for _, gone := range []string{
		"/etc/systemd/system/" + agentUnit, "/etc/rigplan/cache/friend.json",
		"/etc/systemd/nspawn/" + machineName + ".nspawn", "/etc/systemd/system/" + machineUnit + ".d",
		"/var/lib/machines/" + machineName, "/var/lib/rigplan/images/" + machineName,
		"/etc/rigplan/runners/repository.json",
	} {
		if _, err := os.Stat(gone); err == nil {
			t.Errorf("%s is still there after destroy", gone)
		}
	}
	if got := h.show(machineUnit, "ActiveState"); got != "inactive" {
		t.Errorf("%s is %s after destroy", machineUnit, got)
	}
	for _, kept := range []string{tokenFile, "/etc/systemd/nspawn/other.nspawn", filepath.Join(reports, "job-3.out")} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("destroy removed what is not rigplan's: %v", err)
		}
	}
	h.run("lvs", "other/keep")
	for _, r := range h.github.Runners("repos/" + repository) {
		if slices.Contains(r.Labels, "rigplan.runner.repository") {
			t.Errorf("runner %s (%s) is still on GitHub after destroy", r.Name, r.Status)
		}
	}
}

// restoreTimes are the agent's times for its mount requests, in order,
// as its log has them.
func (h *host) restoreTimes() []string {
	out := h.run("journalctl", "--unit", agentUnit, "--output", "cat", "--no-pager")
	var took []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.Contains(l, "msg=request") || !strings.Contains(l, "command=mount") {
			continue
		}
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "took="); ok {
				took = append(took, v)
			}
		}
	}
	return took
}

// waitSealed waits until the agent has sealed n snapshots.
func (h *host) waitSealed(n int) {
	h.waitFor(fmt.Sprintf("%d sealed snapshots", n), func() bool {
		out, err := exec.Command(rigplan, "cache", "ls", "-json").Output()
		if err != nil {
			return false
		}
		var snaps []struct{ State string }
		if json.Unmarshal(out, &snaps) != nil {
			return false
		}
		sealed := 0
		for _, s := range snaps {
			if s.State == "sealed" {
				sealed++
			}
		}
		return sealed >= n
	})
}

// newAPI is a GitHub client for the test's own calls, as GitHub's side.
func newAPI(t *testing.T, url string) *ghapi.Client {
	api, err := ghapi.New(ghapi.Options{URL: url, Auth: ghapi.Auth{TokenFile: tokenFile}})
	if err != nil {
		t.Fatal(err)
	}
	return api
}
