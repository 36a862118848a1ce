// Package cachetest runs the cache resource against systemd as PID 1 in
// the test kernel: rigplan apply installs the agent's service, systemd
// starts it and waits for its readiness, a hand-stopped service is drift
// that the next apply repairs, and removing the block removes the service.
package cachetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/internal/rigplanbin"
	"github.com/rigplan/rigplan/testhost"
)

// rigplan is the binary under test, built before the kernel boots. It is
// put next to the test binary, the one host directory (with the working
// directory) that the systemd test host shows at the same path.
var rigplan string

func TestMain(m *testing.M) {
	var err error
	if rigplan, err = rigplanbin.NextToTest(!testhost.Inside()); err != nil {
		fmt.Fprintf(os.Stderr, "cachetest: %v\n", err)
		os.Exit(1)
	}
	os.Exit(testhost.MainSystemd(m))
}

const config = `
cache "ci" {
  machines = {
    "runner" = ["/home/runner/cache"]
  }
  btrfs_store {
    directory         = "/srv/cache/snapshots"
    default_subvolume = "/srv/cache/default"
  }
  commit = "on-save"
}
`

func TestServiceLifecycle(t *testing.T) {
	btrfsStore(t, testhost.SystemdHost(t).Disks()[0])

	dir := t.TempDir()
	write(t, filepath.Join(dir, "main.hcl"), config)

	// Create: apply returns once systemd has the agent's READY=1.
	out := rp(t, 0, "apply", "-auto-approve", dir)
	if !strings.Contains(out, "Apply complete! Resources: 1 added") {
		t.Fatalf("apply:\n%s", out)
	}
	if got := show(t, "ActiveState"); got != "active" {
		t.Fatalf("the agent's service is %s after apply, want active", got)
	}
	if got := show(t, "Type"); got != "notify" {
		t.Errorf("service type %s, want notify", got)
	}
	// The agent answers on its socket.
	stats := rp(t, 0, "cache", "stats")
	if !strings.Contains(stats, "agent.rss_bytes") {
		t.Errorf("rigplan cache stats:\n%s", stats)
	}
	rp(t, 0, "plan", "-detailed-exitcode", dir)

	// Drift: stopped by hand, planned as a change, started again by apply.
	run(t, "systemctl", "stop", "rigplan-cache-ci.service")
	if out := rp(t, 2, "plan", "-detailed-exitcode", dir); !strings.Contains(out, `"inactive" -> "active"`) {
		t.Errorf("plan of a stopped agent:\n%s", out)
	}
	rp(t, 0, "apply", "-auto-approve", dir)
	if got := show(t, "ActiveState"); got != "active" {
		t.Errorf("the agent's service is %s after the repairing apply", got)
	}
	rp(t, 0, "plan", "-detailed-exitcode", dir)

	// Delete: the block removed, the service and its files go; the
	// store's data stays.
	write(t, filepath.Join(dir, "main.hcl"), "")
	out = rp(t, 0, "apply", "-auto-approve", dir)
	if !strings.Contains(out, "1 destroyed") {
		t.Fatalf("apply without the block:\n%s", out)
	}
	if got := show(t, "LoadState"); got != "not-found" {
		t.Errorf("unit is %s after delete, want not-found", got)
	}
	for _, f := range []string{"/etc/systemd/system/rigplan-cache-ci.service", "/etc/rigplan/cache/ci.json"} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after delete: %v", f, err)
		}
	}
	if _, err := os.Stat("/srv/cache/default"); err != nil {
		t.Errorf("the store's default subvolume after delete: %v", err)
	}
}

// btrfsStore makes the configurations' store on disk: a btrfs mounted
// at /srv/cache (until the test ends) with the default subvolume and the
// snapshots' directory.
func btrfsStore(t *testing.T, disk string) {
	t.Helper()
	run(t, "mkfs.btrfs", "-q", disk)
	if err := os.MkdirAll("/srv/cache", 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "mount", disk, "/srv/cache")
	t.Cleanup(func() { exec.Command("umount", "-l", "/srv/cache").Run() })
	run(t, "btrfs", "-q", "subvolume", "create", "/srv/cache/default")
	if err := os.Mkdir("/srv/cache/snapshots", 0o700); err != nil {
		t.Fatal(err)
	}
}

// rp runs rigplan and fails the test unless it exits with want.
func rp(t *testing.T, want int, args ...string) string {
	t.Helper()
	return rigplanbin.Run(t, rigplan, want, args...)
}

func show(t *testing.T, prop string) string {
	t.Helper()
	return strings.TrimSpace(run(t, "systemctl", "show", "-P", prop, "rigplan-cache-ci.service"))
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
