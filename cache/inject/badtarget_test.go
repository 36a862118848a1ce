package inject_test

import (
	"context"
	"testing"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
)

// TestMountRefusesBadTargets: every bad target is refused with a reason,
// nothing inside the machine (its /etc above all) changes, and no mount is
// left anywhere.
func TestMountRefusesBadTargets(t *testing.T) {
	machinetest.Require(t)
	ctx := context.Background()
	noHostMountLeaks(t)
	dir := newLoopFS(t, "ext4").dir
	m, mach := startRunnerMachine(t, machinetest.Options{})
	runner := credOf(m, machinetest.Runner)

	// What a hostile job plants, as the runner, in its own home.
	m.Sh(t, machinetest.Runner, `cd /home/runner && ln -s /etc evil && ln -s /etc link && ln -s /home/runner/real hop && mkdir real && touch file`)
	// And a symlink above the prefix, planted by the machine's root.
	m.Sh(t, machinetest.Root, `mkdir -p /srv && ln -s /etc /srv/cache`)
	mach.Allowed = append(mach.Allowed, "/srv")

	etcBefore := m.Sh(t, machinetest.Root, "ls -laR /etc")
	mountsBefore, err := inject.Mounts(ctx, mach)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		target string
		want   string
	}{
		{"/home/runner/evil", "symlink"},
		{"/home/runner/link/cache", "symlink"},
		{"/home/runner/hop", "symlink"},
		{"/srv/cache", "symlink"},
		{"/home/runner/../../etc", `".." component`},
		{"/home/runner/./cache", `"." component`},
		{"home/runner/cache", "relative"},
		{"/home/runner//cache", "not clean"},
		{"", "empty"},
		{"/etc/cache", "outside the machine's allowed prefixes"},
		{"/home/runner2/cache", "outside the machine's allowed prefixes"},
		{"/home/runner/no/such", "parent /home/runner/no does not exist"},
		{"/home/runner/file", "not a directory"},
		{"/home/runner/file/cache", "not a directory"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			// CheckTarget, which the agent calls before it makes a
			// snapshot, refuses what Mount refuses, for the same reason.
			mustErr(t, inject.CheckTarget(ctx, mach, runner, tc.target), inject.ErrBadPath, tc.want)
			mustErr(t, inject.Mount(ctx, mach, runner, dir, tc.target), inject.ErrBadPath, tc.want)
		})
	}
	// And accepts what Mount accepts, creating nothing: the runner's
	// directory, a new one in its home, and (for machine root) one in
	// root's /srv.
	for _, tc := range []struct {
		who    inject.Cred
		target string
	}{{runner, "/home/runner/real"}, {runner, "/home/runner/new"}, {credOf(m, machinetest.Root), "/srv/new"}} {
		if err := inject.CheckTarget(ctx, mach, tc.who, tc.target); err != nil {
			t.Errorf("CheckTarget(%s) as host uid %d: %v", tc.target, tc.who.UID, err)
		}
	}
	if got := m.Sh(t, machinetest.Root, "ls -d /home/runner/new /srv/new 2>&1 | wc -l; ls /home/runner/new /srv/new 2>/dev/null | wc -l"); got != "2\n0" {
		t.Errorf("CheckTarget made something: %q", got)
	}
	if err := inject.Mount(ctx, mach, runner, dir, "/home/runner/real"); err != nil {
		t.Fatal(err)
	}
	mustErr(t, inject.CheckTarget(ctx, mach, runner, "/home/runner/real"), inject.ErrBadPath, "already a mount point")
	if err := inject.Unmount(ctx, mach, "/home/runner/real"); err != nil {
		t.Fatal(err)
	}

	if got := m.Sh(t, machinetest.Root, "ls -laR /etc"); got != etcBefore {
		t.Errorf("/etc inside the machine changed:\n%s\nwas\n%s", got, etcBefore)
	}
	if got := m.Sh(t, machinetest.Root, "ls -A /home/runner/real; ls -d /home/runner/no 2>&1 || true"); got != "ls: cannot access '/home/runner/no': No such file or directory" {
		t.Errorf("a refused mount left something behind: %q", got)
	}
	mountsAfter, err := inject.Mounts(ctx, mach)
	if err != nil {
		t.Fatal(err)
	}
	if len(mountsAfter) != len(mountsBefore) {
		t.Errorf("the machine had %d mounts, now %d: %+v", len(mountsBefore), len(mountsAfter), mountsAfter)
	}
}
