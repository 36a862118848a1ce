package nspawntest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/ociimage/ocitest"
	"github.com/rigplan/rigplan/internal/rigplanbin"
	"github.com/rigplan/rigplan/testhost"
)

// rigplan is the binary under test, and example the original setup's
// machine (examples/lvm-cache-runner/machine.hcl): both are put next to the test
// binary before the kernel boots (see rigplanbin.NextToTest).
var rigplan, example string

func TestMain(m *testing.M) {
	var err error
	if rigplan, err = rigplanbin.NextToTest(!testhost.Inside()); err == nil {
		example = filepath.Join(filepath.Dir(rigplan), "machine.hcl")
		if !testhost.Inside() {
			err = copyFile("../../../examples/lvm-cache-runner/machine.hcl", example)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "nspawntest: %v\n", err)
		os.Exit(1)
	}
	os.Exit(testhost.MainSystemd(m))
}

const (
	name     = "github-runner"
	unit     = "systemd-nspawn@" + name + ".service"
	jobs     = "/srv/jobs"          // bound read-write at /jobs: the machine reports there
	sockDir  = "/run/rigplan-cache" // the agent's socket directory, bound read-only
	rootBase = 570097664            // the original setup's range: 570097664:131072
)

// exampleConfig is examples/lvm-cache-runner's machine.hcl as an operator
// would adapt it to this host: the runner image imported from an OCI
// layout (the test host has no podman and no network), and the machine as
// written there, its cache agent's socket directory given as a path (the
// agent's block is in another file of the example; package e2e runs them
// all), plus a read-write bind for the job's reports, a marker in its
// environment, and a job_wait the test can live with.
func exampleConfig(t *testing.T, layout, marker string) string {
	t.Helper()
	src, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclwrite.ParseConfig(src, example, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	body := f.Body()
	img := block(t, body, "image", "runner").Body()
	img.RemoveBlock(block(t, img, "build"))
	img.SetAttributeValue("source", cty.StringVal("oci:"+layout))
	m := block(t, body, "machine", "runner").Body()
	m.SetAttributeValue("bind_read_only", cty.ListVal([]cty.Value{cty.StringVal(sockDir)}))
	m.SetAttributeValue("bind", cty.ListVal([]cty.Value{cty.StringVal(jobs + ":/jobs")}))
	m.SetAttributeValue("environment", cty.MapVal(map[string]cty.Value{"MARKER": cty.StringVal(marker)}))
	m.SetAttributeValue("job_wait", cty.StringVal("5m"))
	return string(f.Bytes())
}

func block(t *testing.T, body *hclwrite.Body, typ string, labels ...string) *hclwrite.Block {
	t.Helper()
	b := body.FirstMatchingBlock(typ, labels)
	if b == nil {
		t.Fatalf("examples/lvm-cache-runner/machine.hcl has no %s %v block", typ, labels)
	}
	return b
}

// machineInit is the image's /sbin/init: each boot reports what it sees
// in /jobs/boot-N, runs one job and powers the machine off, as the
// runner image does after a job.
const machineInit = `#!/bin/sh
n=1
while [ -e /jobs/boot-$n ]; do n=$((n+1)); done
{
	echo "image $(cat /etc/image-version)"
	if [ -e /etc/job-was-here ]; then echo "root dirty"; else echo "root clean"; fi
	echo "marker $MARKER"
	echo "uid_map" $(cat /proc/self/uid_map)
	if touch /etc/probe 2>/dev/null; then echo "etc writable"; else echo "etc read-only"; fi
	if touch /probe 2>/dev/null; then echo "top writable"; else echo "top read-only"; fi
	if touch /run/rigplan-cache/probe 2>/dev/null; then echo "sockets writable"; else echo "sockets read-only"; fi
} >/jobs/boot-$n.part
mv /jobs/boot-$n.part /jobs/boot-$n
# systemd-nspawn stops a booted machine with SIGRTMIN+3, systemd's
# "halt" (37): end the job and the machine at once.
trap 'kill $job; exit 0' 37
echo "boot $n: job starts"
/usr/local/bin/Runner.Worker $n &
job=$!
wait $job
echo "boot $n: job ended, powering off"
exec poweroff -f
`

// jobScript is the job, named like the GitHub runner's job process so
// that rigplan sees the machine as busy: it writes into the machine's
// root and runs until the test ends it.
const jobScript = `#!/bin/sh
echo "job $1" >/etc/job-was-here
while [ ! -e /jobs/end-$1 ]; do sleep 0.1; done
echo "job $1" >/jobs/finished-$1
`

// writeImage writes an OCI layout of a static busybox, the init and the
// job above, version written into /etc/image-version.
func writeImage(t *testing.T, dir, version string) {
	t.Helper()
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("the test host has no static busybox: %v", err)
	}
	entries := []ocitest.Entry{
		ocitest.Dir("bin", 0o755), ocitest.Dir("sbin", 0o755), ocitest.Dir("etc", 0o755),
		ocitest.Dir("usr", 0o755), ocitest.Dir("usr/local", 0o755), ocitest.Dir("usr/local/bin", 0o755),
		ocitest.Dir("jobs", 0o755), ocitest.Dir("run", 0o755), ocitest.Dir("tmp", 0o1777),
		ocitest.File("bin/busybox", string(busybox), 0o755),
		ocitest.File("sbin/init", machineInit, 0o755),
		ocitest.File("usr/local/bin/Runner.Worker", jobScript, 0o755),
		// systemd-nspawn --boot refuses a root without os-release.
		ocitest.File("etc/os-release", "ID=nspawntest\nNAME=\"nspawntest runner\"\n", 0o644),
		ocitest.File("etc/image-version", version+"\n", 0o644),
	}
	for _, applet := range []string{"sh", "cat", "touch", "mv", "sleep", "poweroff"} {
		entries = append(entries, ocitest.Symlink("bin/"+applet, "busybox"))
	}
	ocitest.WriteLayout(t, dir, ocitest.Layer(t, entries...))
}

func TestMachineLifecycle(t *testing.T) {
	testhost.SystemdHost(t)
	work := t.TempDir()
	v1, v2 := filepath.Join(work, "v1"), filepath.Join(work, "v2")
	writeImage(t, v1, "1")
	writeImage(t, v2, "2")
	// What podman's containers-common installs on a real host.
	mkdir(t, "/etc/containers", 0)
	mkfile(t, "/etc/containers/policy.json", `{"default": [{"type": "insecureAcceptAnything"}]}`, 0)
	mkdir(t, sockDir, 0)
	mkdir(t, jobs, rootBase) // root in the machine writes its reports here
	cfgDir := filepath.Join(work, "config")
	mkdir(t, cfgDir, 0)
	writeConfig(t, cfgDir, exampleConfig(t, v1, "one"))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(journal())
		}
		exec.Command("systemctl", "stop", unit).Run()
	})

	rigplanbin.Run(t, rigplan, 0, "validate", cfgDir)
	rigplanbin.Run(t, rigplan, 2, "plan", "-detailed-exitcode", cfgDir)
	out := rigplanbin.Run(t, rigplan, 0, "apply", "-auto-approve", cfgDir)
	if !strings.Contains(out, "2 added") {
		t.Fatalf("apply from nothing:\n%s", out)
	}

	// The machine boots clean, in the original's user range, with the
	// agent's socket directory read-only.
	boot := waitBoot(t, 1)
	want(t, boot, "image 1", "root clean", "marker one", "uid_map 0 570097664 131072", "etc writable", "sockets read-only")
	t.Logf("the volatile overlay's top directory: %s", boot["top"])

	// What systemd read from the files rigplan wrote.
	props := show(t, "Restart", "Environment", "DropInPaths", "UnitFileState", "NRestarts", "ActiveState")
	if props["Restart"] != "always" || !strings.Contains(props["Environment"], "SYSTEMD_SECCOMP=0") ||
		!strings.Contains(props["DropInPaths"], "/etc/systemd/system/"+unit+".d/rigplan.conf") ||
		props["UnitFileState"] != "enabled" || props["ActiveState"] != "active" {
		t.Errorf("%s as systemd reads it: %v", unit, props)
	}
	if out, err := exec.Command("machinectl", "show", "--property", "State", "--value", name).Output(); err != nil || strings.TrimSpace(string(out)) != "running" {
		t.Errorf("machined has %s as %q (%v), want running", name, out, err)
	}
	rigplanbin.Run(t, rigplan, 0, "plan", "-detailed-exitcode", cfgDir)

	// The job ends, the machine powers off, systemd boots it again, and
	// what the job wrote into the root is gone.
	mkfile(t, filepath.Join(jobs, "end-1"), "", rootBase)
	boot = waitBoot(t, 2)
	want(t, boot, "image 1", "root clean", "marker one")
	// The job's write went to the volatile overlay, never into the root.
	if _, err := os.Stat("/var/lib/machines/" + name + "/etc/job-was-here"); err == nil {
		t.Error("the job wrote into the machine's root directory on the host")
	}
	if n := show(t, "NRestarts")["NRestarts"]; n != "1" {
		t.Errorf("NRestarts = %s after one job, want 1 (systemd restarted the machine)", n)
	}

	// A new image and environment, planned while job 2 runs: plan says the
	// root is replaced after the job; apply waits for it.
	writeConfig(t, cfgDir, exampleConfig(t, v2, "two"))
	out = rigplanbin.Run(t, rigplan, 2, "plan", "-detailed-exitcode", cfgDir)
	if !strings.Contains(out, "Machine busy") {
		t.Errorf("plan of a new image while a job runs does not say the machine is busy:\n%s", out)
	}
	apply := exec.Command(rigplan, "apply", "-auto-approve", cfgDir)
	var applyOut bytes.Buffer
	apply.Stdout, apply.Stderr = &applyOut, &applyOut
	apply.Env = append(os.Environ(), "NO_COLOR=1")
	if err := apply.Start(); err != nil {
		t.Fatal(err)
	}
	applied := make(chan error, 1)
	go func() { applied <- apply.Wait() }()
	// While apply waits for the job, systemd is told not to boot the
	// machine again after it (or the next job would start on the old root).
	waitFor(t, "apply to hold the machine", func() bool { return show(t, "Restart")["Restart"] == "no" })
	select {
	case err := <-applied:
		t.Fatalf("apply ended while the job still ran (%v):\n%s", err, applyOut.String())
	default:
	}
	mkfile(t, filepath.Join(jobs, "end-2"), "", rootBase)
	if err := <-applied; err != nil {
		t.Fatalf("apply of the new image: %v\n%s", err, applyOut.String())
	}
	if _, err := os.Stat(filepath.Join(jobs, "finished-2")); err != nil {
		t.Errorf("job 2 did not finish by itself: apply killed it (%v)\n%s", err, applyOut.String())
	}
	boot = waitBoot(t, 3)
	want(t, boot, "image 2", "root clean", "marker two")
	if r := show(t, "Restart")["Restart"]; r != "always" {
		t.Errorf("Restart=%s after apply, want always: the hold was not released", r)
	}
	rigplanbin.Run(t, rigplan, 0, "plan", "-detailed-exitcode", cfgDir)

	// Without the blocks, the machine and the image go; the job reports
	// (not rigplan's) stay.
	writeConfig(t, cfgDir, "")
	out = rigplanbin.Run(t, rigplan, 0, "apply", "-auto-approve", cfgDir)
	if !strings.Contains(out, "2 destroyed") {
		t.Fatalf("apply without the blocks:\n%s", out)
	}
	if p := show(t, "ActiveState", "Result"); p["ActiveState"] != "inactive" || p["Result"] != "success" {
		t.Errorf("%s after delete: %v", unit, p)
	}
	for _, gone := range []string{"/var/lib/machines/" + name, "/etc/systemd/nspawn/" + name + ".nspawn",
		"/etc/systemd/system/" + unit + ".d", "/var/lib/rigplan/images/" + name} {
		if _, err := os.Stat(gone); err == nil {
			t.Errorf("%s is still there after delete", gone)
		}
	}
	if _, err := os.Stat(filepath.Join(jobs, "boot-3")); err != nil {
		t.Errorf("the bind mount's source lost its files: %v", err)
	}
}

func writeConfig(t *testing.T, dir, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

// waitBoot waits for the machine's n-th boot report and returns it, by
// its lines' first words.
func waitBoot(t *testing.T, n int) map[string]string {
	t.Helper()
	report := filepath.Join(jobs, fmt.Sprintf("boot-%d", n))
	waitFor(t, fmt.Sprintf("boot %d of the machine", n), func() bool {
		_, err := os.Stat(report)
		return err == nil
	})
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("boot %d:\n%s", n, b)
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, _, _ := strings.Cut(line, " ")
		got[k] = strings.Join(strings.Fields(line), " ")
	}
	return got
}

// want checks report lines of a boot.
func want(t *testing.T, boot map[string]string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		k, _, _ := strings.Cut(l, " ")
		if boot[k] != l {
			t.Errorf("the machine's boot reported %q, want %q", boot[k], l)
		}
	}
}

// waitFor polls until ok; the bound only keeps a hung machine from
// hanging the test (a boot takes seconds, in the emulated kernel).
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(3 * time.Minute); !ok(); {
		if time.Now().After(end) {
			t.Fatalf("waited three minutes for %s\n%s", what, journal())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// show reads properties of the machine's unit.
func show(t *testing.T, props ...string) map[string]string {
	t.Helper()
	out, err := exec.Command("systemctl", "show", unit, "--property", strings.Join(props, ",")).Output()
	if err != nil {
		t.Fatalf("systemctl show %s: %v", unit, err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	return got
}

// journal is the machine's log and its reports, for a failure message.
func journal() string {
	out, _ := exec.Command("journalctl", "--boot", "--unit", unit, "--no-pager", "-n", "80").CombinedOutput()
	ls, _ := exec.Command("ls", "-ln", "--full-time", jobs).CombinedOutput()
	return "journal of " + unit + ":\n" + string(out) + "\n" + jobs + ":\n" + string(ls)
}

func mkdir(t *testing.T, dir string, owner int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, owner, owner); err != nil {
		t.Fatal(err)
	}
}

func mkfile(t *testing.T, path, text string, owner int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, owner, owner); err != nil {
		t.Fatal(err)
	}
}
