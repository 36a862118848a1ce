package inject_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
)

// TestMountCarriesNoPrivilege: machine root in one job leaves a
// setuid-root program and a device node in its cache (on disk both are
// owned by uid 0, which the idmap makes the machine's root). In a later
// job the runner, mounting a copy, must get neither root nor the device.
func TestMountCarriesNoPrivilege(t *testing.T) {
	machinetest.Require(t)
	ctx := context.Background()
	noHostMountLeaks(t)
	dir := newLoopFS(t, "ext4").dir

	prog, err := os.ReadFile("/usr/bin/id")
	if err != nil {
		t.Skipf("needs /usr/bin/id to copy as a setuid program: %v", err)
	}
	id := filepath.Join(dir, "id")
	if err := os.WriteFile(id, prog, 0o755); err != nil {
		t.Fatal(err)
	}
	// Chown first: chown clears the setuid bit.
	if err := os.Chown(id, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(id, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	null := filepath.Join(dir, "null")
	if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(null, 0o666); err != nil {
		t.Fatal(err)
	}

	m, mach := startRunnerMachine(t, machinetest.Options{})
	if err := inject.Mount(ctx, mach, credOf(m, machinetest.Runner), dir, cacheTarget); err != nil {
		t.Fatal(err)
	}

	// What the runner sees is what root left: a setuid-root program and
	// a character device anyone may write.
	if got := m.Sh(t, machinetest.Runner, "stat -c '%u %a %F' "+cacheTarget+"/id "+cacheTarget+"/null"); got != "0 4755 regular file\n0 666 character special file" {
		t.Fatalf("the cache as the runner sees it: %q", got)
	}
	if got := m.Sh(t, machinetest.Runner, cacheTarget+"/id -u"); got != "1000" {
		t.Errorf("the runner ran the cache's setuid-root program and got euid %s, want its own 1000", got)
	}
	if res, err := m.Exec(ctx, machinetest.Cmd{UID: machinetest.Runner, Args: []string{"sh", "-c", "echo x > " + cacheTarget + "/null"}}); err == nil {
		t.Errorf("the runner wrote to the device node in its cache (%s)", res.Stderr)
	}

	entries, err := inject.Mounts(ctx, mach)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.Target != cacheTarget {
			continue
		}
		found = true
		opts := strings.Split(e.Options, ",")
		for _, want := range []string{"nosuid", "nodev", "idmapped"} {
			if !slices.Contains(opts, want) {
				t.Errorf("the cache's mount in the machine has options %s, without %s", e.Options, want)
			}
		}
	}
	if !found {
		t.Errorf("no mount at %s in the machine", cacheTarget)
	}
}
