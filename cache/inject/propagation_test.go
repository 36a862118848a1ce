package inject_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
)

// TestMountDoesNotPropagate: on a systemd host, / is shared and so is the
// store's mount of a snapshot. The clone in the machine must not be its
// peer: a job's mounts under its cache must not appear on the host, nor
// the host's under the snapshot in the machine.
func TestMountDoesNotPropagate(t *testing.T) {
	machinetest.Require(t)
	ctx := context.Background()
	noHostMountLeaks(t)
	dir := newLoopFS(t, "ext4").dir
	run(t, "mount", "--make-shared", dir)
	if err := os.Mkdir(filepath.Join(dir, "fromhost"), 0o755); err != nil {
		t.Fatal(err)
	}
	m, mach := startRunnerMachine(t, machinetest.Options{})
	runner := credOf(m, machinetest.Runner)
	if err := inject.Mount(ctx, mach, runner, dir, cacheTarget); err != nil {
		t.Fatal(err)
	}

	// The machine's root mounts over a directory of its cache.
	m.Sh(t, machinetest.Root, "mkdir "+cacheTarget+"/sub && mount -t tmpfs jobtmp "+cacheTarget+"/sub && touch "+cacheTarget+"/sub/x")
	for _, e := range hostMounts() {
		if strings.HasPrefix(e.Target, dir+"/") {
			t.Errorf("a mount the job made inside its cache appeared on the host: %+v", e)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sub", "x")); !os.IsNotExist(err) {
		t.Errorf("the host sees the job's tmpfs: %v", err)
	}

	// The host mounts under the snapshot.
	hostTmp := filepath.Join(dir, "fromhost")
	run(t, "mount", "-t", "tmpfs", "hosttmp", hostTmp)
	defer run(t, "umount", hostTmp)
	if got := m.Sh(t, machinetest.Root, "grep -c hosttmp /proc/self/mountinfo || true"); got != "0" {
		t.Errorf("a host mount under the snapshot appeared in the machine")
	}
	if err := m.PowerOff(ctx); err != nil {
		t.Fatal(err)
	}
}
