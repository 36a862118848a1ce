package inject_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
)

const cacheTarget = "/home/runner/cache"

// startRunnerMachine starts a machine with /home/runner owned by the
// runner (uid 1000 inside) and finds it the way the agent does.
func startRunnerMachine(t *testing.T, opts machinetest.Options) (*machinetest.Machine, inject.Machine) {
	t.Helper()
	m := machinetest.Start(t, opts)
	m.Sh(t, machinetest.Root, "mkdir -p /home/runner && chown 1000:1000 /home/runner")
	id := &inject.Identifier{Machines: map[string][]string{m.Name(): {"/home/runner"}}}
	mach, err := id.Lookup(context.Background(), m.Name())
	if err != nil {
		t.Fatal(err)
	}
	if mach.Leader != m.Leader() || mach.Cgroup != m.Cgroup() {
		t.Fatalf("Lookup found leader %d in %s, want %d in %s", mach.Leader, mach.Cgroup, m.Leader(), m.Cgroup())
	}
	return m, mach
}

// credOf is the Cred of a request from a process of machine m that runs
// as uid (and gid) inside, with no supplementary groups, as
// machinetest's commands do (nsenter --setuid clears them). Mount and
// CheckTarget do not look at the pid.
func credOf(m *machinetest.Machine, uid int) inject.Cred {
	return inject.Cred{UID: m.Base() + uint32(uid), GID: m.Base() + uint32(uid)}
}

// TestMountIntoMachine is the cache's whole life in a machine: a job, as
// uid 1000 inside a user-namespaced machine, reads and writes a cache whose
// files carry uid 1000 on disk, and after the machine powers off nothing
// holds the filesystem.
func TestMountIntoMachine(t *testing.T) {
	for _, fstype := range []string{"ext4", "xfs", "btrfs"} {
		t.Run(fstype, func(t *testing.T) {
			machinetest.Require(t)
			ctx := context.Background()
			noHostMountLeaks(t)
			lfs := newLoopFS(t, fstype)
			dir := lfs.dir
			// The cache as an earlier job left it: the runner's files are
			// uid 1000 on disk, whatever the machine's user range.
			for name, content := range map[string]string{"hello": "cached\n", "rootfile": "root's\n"} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range []string{dir, filepath.Join(dir, "hello")} {
				if err := os.Chown(p, 1000, 1000); err != nil {
					t.Fatal(err)
				}
			}

			m, mach := startRunnerMachine(t, machinetest.Options{})
			runner := credOf(m, machinetest.Runner)
			if err := inject.Mount(ctx, mach, runner, dir, cacheTarget); err != nil {
				t.Fatal(err)
			}

			// Inside, as the runner.
			if got := m.Sh(t, machinetest.Runner, "cat "+cacheTarget+"/hello"); got != "cached" {
				t.Errorf("runner reads %q", got)
			}
			m.Sh(t, machinetest.Runner, "echo new > "+cacheTarget+"/new && mkdir "+cacheTarget+"/sub")
			got := m.Sh(t, machinetest.Runner, "cd "+cacheTarget+" && stat -c '%n %u:%g' . hello new sub rootfile")
			want := ". 1000:1000\nhello 1000:1000\nnew 1000:1000\nsub 1000:1000\nrootfile 0:0"
			if got != want {
				t.Errorf("owners inside the machine:\n%s\nwant\n%s", got, want)
			}
			if _, err := m.Exec(ctx, machinetest.Cmd{UID: machinetest.Runner, Args: []string{"sh", "-c", "echo x >> " + cacheTarget + "/rootfile"}}); err == nil {
				t.Error("the runner could write a file owned by root on disk")
			}

			// On disk: what the runner wrote is uid 1000, nothing chowned.
			for p, want := range map[string]string{"new": "1000:1000", "sub": "1000:1000", "hello": "1000:1000", "rootfile": "0:0", ".": "1000:1000"} {
				if got := owner(t, filepath.Join(dir, p)); got != want {
					t.Errorf("on disk %s is owned by %s, want %s", p, got, want)
				}
			}
			if b, err := os.ReadFile(filepath.Join(dir, "new")); err != nil || string(b) != "new\n" {
				t.Errorf("host reads %q, %v", b, err)
			}

			// The machine's mount table shows it, idmapped, on the same
			// filesystem as the host mount.
			var hostDev string
			for _, e := range hostMounts() {
				if e.Target == dir {
					hostDev = e.Dev()
				}
			}
			entries, err := inject.Mounts(ctx, mach)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range entries {
				if e.Target == cacheTarget {
					found = true
					if e.Dev() != hostDev || !strings.Contains(e.Options, "idmapped") || e.FSType != fstype {
						t.Errorf("machine mount %+v: want device %s, idmapped, %s", e, hostDev, fstype)
					}
				}
			}
			if !found {
				t.Errorf("Mounts lists no mount at %s: %+v", cacheTarget, entries)
			}

			// A second mount at the same path would hide the first.
			mustErr(t, inject.Mount(ctx, mach, runner, dir, cacheTarget), inject.ErrBadPath, "already a mount point", mach.Name)

			// A missing target is created as the requester, the runner;
			// Unmount takes the mount back and leaves that directory.
			extra := "/home/runner/extra"
			if err := inject.Mount(ctx, mach, runner, dir, extra); err != nil {
				t.Fatal(err)
			}
			if got := m.Sh(t, machinetest.Runner, "cat "+extra+"/new"); got != "new" {
				t.Errorf("second mount reads %q", got)
			}
			if err := inject.Unmount(ctx, mach, extra); err != nil {
				t.Fatal(err)
			}
			if got := m.Sh(t, machinetest.Runner, "stat -c '%u:%g %a' "+extra+"; ls -A "+extra+"; echo end"); got != "1000:1000 755\nend" {
				t.Errorf("after Unmount, %s inside is %q, want an empty directory of the runner's", extra, got)
			}
			mustErr(t, inject.Unmount(ctx, mach, extra), inject.ErrNotMounted, extra)
			mustErr(t, inject.Unmount(ctx, mach, "/home/runner/no/such"), inject.ErrNotMounted, "nothing is mounted")
			m.Sh(t, machinetest.Runner, "ln -s /etc /home/runner/evil")
			mustErr(t, inject.Unmount(ctx, mach, "/home/runner/evil/x"), inject.ErrBadPath, "symlink")

			// The host can let go of its mount at once: the machine's keeps
			// the filesystem.
			run(t, "umount", dir)
			if got := m.Sh(t, machinetest.Runner, "cat "+cacheTarget+"/new"); got != "new" {
				t.Errorf("after the host unmounted, the machine reads %q", got)
			}
			run(t, "losetup", "-d", lfs.dev)

			// The machine powers off: the watch fires, the filesystem is
			// released, and the machine can no longer be mounted into.
			w, err := inject.WatchLeader(mach)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if done, err := w.Exited(); err != nil || done {
				t.Fatalf("watch says exited=%v (%v) while the machine runs", done, err)
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := m.PowerOff(wctx); err != nil {
				t.Fatal(err)
			}
			if err := w.Wait(wctx); err != nil {
				t.Fatalf("watch did not fire on power-off: %v", err)
			}
			if err := lfs.released(15 * time.Second); err != nil {
				t.Fatalf("after the machine powered off and the host unmounted it: %v: the machine's mount leaked", err)
			}
			mustErr(t, inject.Mount(ctx, mach, runner, t.TempDir(), cacheTarget), inject.ErrNotRunning, mach.Name)
			if _, err := inject.WatchLeader(mach); err == nil {
				t.Error("WatchLeader of a machine that is gone succeeded")
			}
		})
	}
}

// TestMountLeavesTheAgentAlone repeats Mount and Unmount: the setns they
// do on a throw-away thread must never reach the agent's own process, in
// particular not through the main thread (which /proc/self names), and
// no thread of the agent may be left with the requester's credentials.
func TestMountLeavesTheAgentAlone(t *testing.T) {
	machinetest.Require(t)
	ctx := context.Background()
	noHostMountLeaks(t)
	dir := newLoopFS(t, "ext4").dir
	m, mach := startRunnerMachine(t, machinetest.Options{})
	runner := credOf(m, machinetest.Runner)
	ours, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := inject.Mount(ctx, mach, runner, dir, cacheTarget); err != nil {
			t.Fatal(err)
		}
		if err := inject.Unmount(ctx, mach, cacheTarget); err != nil {
			t.Fatal(err)
		}
		if now, _ := os.Readlink("/proc/self/ns/mnt"); now != ours {
			t.Fatalf("after %d mounts the process's main thread is in mount namespace %s, not its own %s", i+1, now, ours)
		}
	}
	if got := m.Sh(t, machinetest.Root, "grep -c ' "+cacheTarget+" ' /proc/self/mountinfo || true"); got != "0" {
		t.Errorf("%s mounts left in the machine after Unmount", got)
	}
	// Every thread left is as the process started: the ids, groups and
	// capabilities of the main thread. (A throw-away thread exits just
	// after it handed back its result, so one may still be seen on its
	// way out: it must be gone soon.)
	creds := func(task string) string {
		b, err := os.ReadFile(task + "/status")
		if err != nil {
			return "" // a thread that just exited
		}
		var keep []string
		for _, line := range strings.Split(string(b), "\n") {
			for _, k := range []string{"Uid:", "Gid:", "Groups:", "CapEff:", "CapPrm:"} {
				if strings.HasPrefix(line, k) {
					keep = append(keep, line)
				}
			}
		}
		return strings.Join(keep, "\n")
	}
	want := creds(fmt.Sprintf("/proc/self/task/%d", os.Getpid()))
	tasks, err := filepath.Glob("/proc/self/task/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			got := creds(task)
			if got == "" || got == want {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("thread %s has\n%s\nnot the process's\n%s", filepath.Base(task), got, want)
				break
			}
		}
	}
}
