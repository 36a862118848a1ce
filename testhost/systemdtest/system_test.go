package systemdtest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rigplan/rigplan/testhost"
)

// systemd is PID 1, the tests run in the harness's unit, and the boot
// finishes: running, or degraded with the failed units named.
func TestSystemIsRunning(t *testing.T) {
	testhost.SystemdHost(t)

	comm, err := os.ReadFile("/proc/1/comm")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(comm)) != "systemd" {
		t.Errorf("PID 1 is %q, want systemd", comm)
	}
	cgroup, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cgroup), "/rigplan-testhost.service") {
		t.Errorf("the tests do not run in rigplan-testhost.service; /proc/self/cgroup:\n%s", cgroup)
	}

	// --wait returns once the boot has finished; its exit status is nonzero
	// for anything but running, so the output is what counts.
	start := time.Now()
	state, _ := tryRun("systemctl", "is-system-running", "--wait")
	state = strings.TrimSpace(state)
	t.Logf("systemctl is-system-running --wait: %s (%v)", state, time.Since(start).Round(time.Millisecond))
	switch state {
	case "running":
	case "degraded":
		failed, _ := tryRun("systemctl", "list-units", "--failed", "--no-legend", "--plain", "--no-pager")
		t.Logf("the system is degraded; failed units:\n%s", failed)
	default:
		failed, _ := tryRun("systemctl", "list-units", "--failed", "--no-legend", "--plain", "--no-pager")
		jobs, _ := tryRun("systemctl", "list-jobs", "--no-pager")
		t.Errorf("systemctl is-system-running = %q, want running or degraded\nfailed units:\n%s\njobs:\n%s", state, failed, jobs)
	}
	if p := show(t, "multi-user.target", "ActiveState"); p["ActiveState"] != "active" {
		t.Errorf("multi-user.target is %q, want active", p["ActiveState"])
	}
	// For whoever tunes the boot: how long it took ("kernel" includes the
	// harness's own init before systemd).
	run(t, "systemd-analyze", "time")
}

// / is an overlay whose upper layer lives only as long as the boot: what a
// test writes there never reaches the cached root on the host, which the
// kernel mounted read-only.
func TestRootIsAPerBootLayer(t *testing.T) {
	testhost.SystemdHost(t)

	var fs syscall.Statfs_t
	if err := syscall.Statfs("/", &fs); err != nil {
		t.Fatal(err)
	}
	const overlayfsMagic = 0x794c7630
	if fs.Type != overlayfsMagic {
		t.Errorf("/ is filesystem type %#x, want overlayfs", fs.Type)
	}
	probe := "/etc/systemdtest-probe"
	writeFile(t, probe, "written by TestRootIsAPerBootLayer\n", 0o644)

	// The cached root, as the kernel was told to mount it.
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var root string
	for _, f := range strings.Fields(string(cmdline)) {
		if v, ok := strings.CutPrefix(f, "rootflags="); ok {
			root = v
		}
	}
	if !strings.Contains(string(cmdline), " ro ") || root == "" {
		t.Fatalf("the kernel command line does not mount a root read-only: %s", cmdline)
	}
	host := t.TempDir()
	run(t, "mount", "-t", "hostfs", "-o", "ro,"+root, "none", host)
	t.Cleanup(func() { run(t, "umount", host) })
	if _, err := os.Stat(filepath.Join(host, "usr/lib/systemd/systemd")); err != nil {
		t.Fatalf("%s through hostfs is not the test host's root: %v", root, err)
	}
	if _, err := os.Stat(filepath.Join(host, probe)); err == nil {
		t.Errorf("%s reached the cached root %s on the host", probe, root)
	}
}
