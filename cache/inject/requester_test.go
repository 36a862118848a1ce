package inject_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
)

// TestMountWithTheRequestersRights: a request does only what its sender
// could do itself in its machine. The runner may not have a directory
// made where it could not make one, may not have its cache hide a
// directory of machine root's, and nobody may have a cache mounted
// into something other than the machine's own tree (a directory bound
// in from the host, a filesystem mounted in the machine, another cache).
// CheckTarget, which the agent asks first, gives the same verdict as
// Mount every time and changes nothing.
func TestMountWithTheRequestersRights(t *testing.T) {
	machinetest.Require(t)
	ctx := context.Background()
	noHostMountLeaks(t)
	dir := newLoopFS(t, "ext4").dir
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte("cached\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	// A host directory bound read-write into the machine, host root's:
	// not writable by any user of the machine.
	hostDir := t.TempDir()
	if err := os.Chmod(hostDir, 0o755); err != nil {
		t.Fatal(err)
	}
	m, mach := startRunnerMachine(t, machinetest.Options{Bind: []machinetest.Bind{{Host: hostDir, Machine: "/srv/host"}}})
	mach.Allowed = append(mach.Allowed, "/srv/host")
	runner, root := credOf(m, machinetest.Runner), credOf(m, machinetest.Root)
	// The runner in group 27 as well, the group of /home/runner/shared.
	member := runner
	member.Groups = []uint32{m.Base() + 27}
	// Machine root's own places in the runner's home, one its group 27
	// may write, and a tmpfs the job mounted (as root, given to the
	// runner).
	m.Sh(t, machinetest.Root, `cd /home/runner && mkdir secret rootdir jobtmp && chmod 700 secret &&
		printf 'echo root ran this\n' > rootdir/script &&
		mkdir shared && chgrp 27 shared && chmod 770 shared &&
		mount -t tmpfs -o uid=1000,gid=1000 jobtmp jobtmp && mkdir jobtmp/sub && chown 1000:1000 jobtmp/sub`)
	// The machine's tree as the host sees it.
	hostView := fmt.Sprintf("/proc/%d/root", m.Leader())

	type request struct {
		name   string
		who    inject.Cred
		target string
		want   []string
	}
	refuse := func(t *testing.T, r request) {
		t.Helper()
		for _, f := range []struct {
			name string
			call func() error
		}{
			{"CheckTarget", func() error { return inject.CheckTarget(ctx, mach, r.who, r.target) }},
			{"Mount", func() error { return inject.Mount(ctx, mach, r.who, dir, r.target) }},
		} {
			err := f.call()
			if err == nil {
				t.Errorf("%s(%s) as host uid %d accepted it", f.name, r.target, r.who.UID)
				if f.name == "Mount" {
					inject.Unmount(ctx, mach, r.target)
				}
				continue
			}
			t.Logf("%s: %v", f.name, err)
			if !errors.Is(err, inject.ErrBadPath) {
				t.Errorf("%s: %q is not ErrBadPath", f.name, err)
			}
			for _, w := range r.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: %q lacks %q", f.name, err, w)
				}
			}
			noErrnoText(t, err)
		}
	}
	for _, r := range []request{
		{"under a directory only machine root may enter", runner, "/home/runner/secret/cache",
			[]string{"/home/runner/secret/cache", "uid 1000 in the machine"}},
		{"in a host directory bound into the machine", runner, "/srv/host/cache",
			[]string{"/srv/host/cache", "another mount than the machine's root filesystem"}},
		{"in a directory of machine root's", runner, "/home/runner/rootdir/cache",
			[]string{"mount path /home/runner/rootdir/cache does not exist, and uid 1000 in the machine may not create it"}},
		{"in a directory of a group the runner is not in", runner, "/home/runner/shared/cache",
			[]string{"mount path /home/runner/shared/cache is out of reach of uid 1000 in the machine"}},
		{"over a directory of machine root's", runner, "/home/runner/rootdir",
			[]string{"mount path /home/runner/rootdir belongs to uid 0 in the machine, not to the requesting uid 1000: a cache is mounted only onto a directory the requester owns or can create"}},
		{"in a tmpfs the job mounted", runner, "/home/runner/jobtmp/cache",
			[]string{"/home/runner/jobtmp/cache", "another mount than the machine's root filesystem"}},
		{"over the runner's directory in a tmpfs the job mounted", runner, "/home/runner/jobtmp/sub",
			[]string{"/home/runner/jobtmp/sub", "another mount than the machine's root filesystem"}},
		{"machine root, in a tmpfs the job mounted", root, "/home/runner/jobtmp/cache",
			[]string{"another mount than the machine's root filesystem"}},
	} {
		t.Run(r.name, func(t *testing.T) { refuse(t, r) })
	}

	// Nothing was made, as the machine and as the host see it.
	for _, p := range []string{hostDir, hostView + "/home/runner/secret", hostView + "/home/runner/jobtmp", hostView + "/home/runner/shared", hostView + "/home/runner/rootdir"} {
		names, err := os.ReadDir(p)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range names {
			got = append(got, n.Name())
		}
		want := map[string]string{hostView + "/home/runner/jobtmp": "sub"}[p]
		if p == hostView+"/home/runner/rootdir" {
			want = "script"
		}
		if strings.Join(got, " ") != want {
			t.Errorf("after the refusals %s holds %q, want %q", p, got, want)
		}
	}
	if got := m.Sh(t, machinetest.Root, "ls -A /home/runner/secret /srv/host; cat /home/runner/rootdir/script"); got != "/home/runner/secret:\n\n/srv/host:\necho root ran this" {
		t.Errorf("after the refusals, inside the machine: %q", got)
	}

	// A missing target in the runner's home: made by the runner, as the
	// runner's. CheckTarget alone makes nothing.
	const fresh = "/home/runner/fresh"
	if err := inject.CheckTarget(ctx, mach, runner, fresh); err != nil {
		t.Fatalf("CheckTarget(%s) as the runner: %v", fresh, err)
	}
	if _, err := os.Lstat(hostView + fresh); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("CheckTarget made %s (%v)", fresh, err)
	}
	if err := inject.Mount(ctx, mach, runner, dir, fresh); err != nil {
		t.Fatalf("Mount(%s) as the runner: %v", fresh, err)
	}
	if got := m.Sh(t, machinetest.Runner, "cat "+fresh+"/hello"); got != "cached" {
		t.Errorf("the runner reads %q from its cache", got)
	}

	// Inside a cache: another mount, for the runner and for root alike,
	// whether the target is missing or the runner's own directory there.
	m.Sh(t, machinetest.Runner, "mkdir "+fresh+"/sub")
	for _, r := range []request{
		{"a missing directory in a cache", runner, fresh + "/inner", []string{fresh + "/inner", "another mount than the machine's root filesystem"}},
		{"the runner's directory in a cache", runner, fresh + "/sub", []string{fresh + "/sub", "another mount than the machine's root filesystem"}},
		{"machine root, in a cache", root, fresh + "/inner", []string{fresh + "/inner", "another mount than the machine's root filesystem"}},
	} {
		t.Run(r.name, func(t *testing.T) { refuse(t, r) })
	}
	if got := m.Sh(t, machinetest.Runner, "ls -A "+fresh); got != "hello\nlost+found\nsub" {
		t.Errorf("after the refusals the cache holds %q", got)
	}
	if err := inject.Unmount(ctx, mach, fresh); err != nil {
		t.Fatal(err)
	}
	if got := m.Sh(t, machinetest.Runner, "stat -c '%u:%g %a' "+fresh+"; ls -A "+fresh+"; echo end"); got != "1000:1000 755\nend" {
		t.Errorf("the directory Mount made is %q inside, want the runner's own empty directory", got)
	}

	// A member of group 27 may make a directory in the group's, as its
	// own.
	if err := inject.CheckTarget(ctx, mach, member, "/home/runner/shared/cache"); err != nil {
		t.Errorf("CheckTarget as a member of group 27: %v", err)
	}
	if err := inject.Mount(ctx, mach, member, dir, "/home/runner/shared/cache"); err != nil {
		t.Fatalf("Mount as a member of group 27: %v", err)
	}
	if err := inject.Unmount(ctx, mach, "/home/runner/shared/cache"); err != nil {
		t.Fatal(err)
	}
	if got := m.Sh(t, machinetest.Root, "stat -c '%u' /home/runner/shared/cache"); got != "1000" {
		t.Errorf("the directory made for the group member belongs to uid %s inside, want 1000", got)
	}

	// Machine root asking for its own directory: its right.
	if err := inject.CheckTarget(ctx, mach, root, "/home/runner/rootdir"); err != nil {
		t.Errorf("CheckTarget as machine root: %v", err)
	}
	if err := inject.Mount(ctx, mach, root, dir, "/home/runner/rootdir"); err != nil {
		t.Fatalf("Mount as machine root: %v", err)
	}
	if got := m.Sh(t, machinetest.Runner, "cat /home/runner/rootdir/hello"); got != "cached" {
		t.Errorf("root's mount shows %q", got)
	}
	if err := inject.Unmount(ctx, mach, "/home/runner/rootdir"); err != nil {
		t.Fatal(err)
	}
}

// noErrnoText fails t if err's text holds the text of a system error:
// what the client sees must say in words what is wrong.
func noErrnoText(t *testing.T, err error) {
	t.Helper()
	for e := unix.Errno(1); e < 134; e++ {
		if s := e.Error(); strings.Contains(err.Error(), s) {
			t.Errorf("%q holds the text of %s (%q)", err, unix.ErrnoName(e), s)
		}
	}
}
