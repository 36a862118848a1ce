package nspawntest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rigplan/rigplan/internal/ociimage/ocitest"
	"github.com/rigplan/rigplan/internal/rigplanbin"
	"github.com/rigplan/rigplan/testhost"
)

// The machine of the interrupted applies is not TestMachineLifecycle's,
// so that each test finds the host as it expects whatever ran before.
const (
	killName = "kill-runner"
	killUnit = "systemd-nspawn@" + killName + ".service"
	killJobs = "/srv/kill-jobs"
	// manyFiles is the size of the image's layer: enough files that the
	// test sees an unpack under way, well before it ends.
	manyFiles = 300
)

// The image and the machine of examples/lvm-cache-runner, applied by the real
// binary under systemd and killed twice: half-way through unpacking the
// image's layer, then half-way through unpacking it again as the
// machine's root, shifted into the machine's user range. Each time the
// next apply removes what the killed one left and converges, and plan
// then has nothing to do. (A kill while apply waits for a busy machine's
// job is tested in package nspawn, TestBusy and TestWaitInterrupted.)
func TestInterruptedApplies(t *testing.T) {
	testhost.SystemdHost(t)
	work := t.TempDir()
	layout := filepath.Join(work, "image")
	// The machine never boots: an os-release (what nspawn asks of a root)
	// and the many files are all the image needs.
	entries := []ocitest.Entry{ocitest.Dir("etc", 0o755), ocitest.File("etc/os-release", "ID=nspawntest\n", 0o644), ocitest.Dir("many", 0o755)}
	for i := range manyFiles {
		entries = append(entries, ocitest.File(fmt.Sprintf("many/f%04d", i), "", 0o644))
	}
	ocitest.WriteLayout(t, layout, ocitest.Layer(t, entries...))
	mkdir(t, "/etc/containers", 0)
	mkfile(t, "/etc/containers/policy.json", `{"default": [{"type": "insecureAcceptAnything"}]}`, 0)
	mkdir(t, sockDir, 0)
	mkdir(t, killJobs, rootBase)
	mkfile(t, filepath.Join(killJobs, "precious"), "kept across applies\n", rootBase)
	cfgDir := filepath.Join(work, "config")
	mkdir(t, cfgDir, 0)
	// Not started: what is tested is the unpacks, not the machine's boot.
	cfg := strings.NewReplacer(`"`+name+`"`, `"`+killName+`"`, jobs+":", killJobs+":").Replace(exampleConfig(t, layout, "one"))
	cfg = strings.Replace(cfg, `machine "runner" {`, `machine "runner" {`+"\n  running = false", 1)
	writeConfig(t, cfgDir, cfg)

	images, machines := "/var/lib/rigplan/images/", "/var/lib/machines/"
	// Killed once the first of the many files is in the image's stage.
	killAt(t, cfgDir, images+"."+killName+".rigplan-new-*/rootfs/many/f0000")
	if _, err := os.Stat(images + killName); err == nil {
		t.Error("a half-unpacked image is in place")
	}

	// Killed again, once the image is made, while the machine's root is
	// unpacked into its stage (the stage is the root).
	killAt(t, cfgDir, machines+"."+killName+".rigplan-new-*/many/f0000")
	for _, gone := range []string{images + "." + killName + ".rigplan-*", machines + killName} {
		if m, _ := filepath.Glob(gone); len(m) > 0 {
			t.Errorf("after the second kill: %v", m)
		}
	}

	out := rigplanbin.Run(t, rigplan, 0, "apply", "-auto-approve", cfgDir)
	if !strings.Contains(out, "1 added") {
		t.Errorf("apply after the kills:\n%s", out)
	}
	rigplanbin.Run(t, rigplan, 0, "plan", "-detailed-exitcode", cfgDir)
	for _, gone := range []string{images + "." + killName + ".rigplan-*", machines + "." + killName + ".rigplan-*"} {
		if m, _ := filepath.Glob(gone); len(m) > 0 {
			t.Errorf("left behind after the apply that followed the kills: %v", m)
		}
	}
	var st syscall.Stat_t
	last := filepath.Join(machines, killName, fmt.Sprintf("many/f%04d", manyFiles-1))
	if err := syscall.Lstat(last, &st); err != nil || st.Uid != rootBase {
		t.Errorf("the machine's root: %s owned by %d (%v), want the whole layer, shifted to %d", last, st.Uid, err, rootBase)
	}
	if b, err := os.ReadFile(filepath.Join(killJobs, "precious")); err != nil || string(b) != "kept across applies\n" {
		t.Errorf("the bind mount's source after the applies: %q, %v", b, err)
	}
	if out, err := exec.Command("systemctl", "show", "-P", "ActiveState", killUnit).Output(); err != nil || strings.TrimSpace(string(out)) != "inactive" {
		t.Errorf("the machine is %q (%v), want it not started (running = false)", out, err)
	}
}

// killAt starts an apply of cfgDir and kills rigplan as soon as a file
// matching pattern exists: the first of the layer's many files in
// an unpack's stage. It checks that the kill came half-way through that
// layer, with some of its files unpacked, not all.
func killAt(t *testing.T, cfgDir, pattern string) {
	t.Helper()
	proc := rigplanbin.Start(t, rigplan, nil, "apply", "-auto-approve", cfgDir)
	var first []string
	for end := time.Now().Add(3 * time.Minute); len(first) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("rigplan never reached %s:\n%s", pattern, proc.Output())
		}
		first, _ = filepath.Glob(pattern)
	}
	proc.Kill(t)
	if exit := proc.Wait(t, time.Minute); exit.Signal != syscall.SIGKILL {
		t.Fatalf("rigplan ended before it was killed: %+v", exit)
	}
	files, err := os.ReadDir(filepath.Dir(first[0]))
	if err != nil || len(files) >= manyFiles {
		t.Fatalf("the layer holds %d of %d files after the kill (%v): the kill did not come half-way", len(files), manyFiles, err)
	}
	t.Logf("killed with %d of the layer's %d files unpacked in %s", len(files), manyFiles, filepath.Dir(first[0]))
}
