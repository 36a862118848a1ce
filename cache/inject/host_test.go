package inject_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/internal/mountinfo"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// run runs a host command for a test, failing it on error.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	res, err := sysexec.Host{}.Run(context.Background(), sysexec.Cmd{Name: name, Args: args, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(res.Stdout))
}

// loopFS is a filesystem on a loop device, mounted for one test.
type loopFS struct {
	dir string // where it is mounted
	dev string // /dev/loopN
	img string // the backing file
}

// newLoopFS makes a filesystem of type fstype in a sparse file, attaches
// it to a loop device and mounts it at a new directory. Whatever the test
// does, and whether it passes or not, its cleanups unmount what is still
// mounted there (lazily, failing the test, if it is busy) and detach the
// device, and fail the test if the device stays attached: a leaked loop
// device outlives the test binary.
func newLoopFS(t *testing.T, fstype string) *loopFS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for loop devices and mounts")
	}
	mkfs := map[string][]string{
		"ext4":  {"mkfs.ext4", "-q", "-F"},
		"xfs":   {"mkfs.xfs", "-q"},
		"btrfs": {"mkfs.btrfs", "-q"},
	}[fstype]
	size := map[string]int64{"ext4": 64 << 20, "xfs": 320 << 20, "btrfs": 128 << 20}[fstype]
	for _, tool := range []string{mkfs[0], "losetup", "mount", "umount"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s for a %s filesystem on a loop device", tool, fstype)
		}
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skip("needs loop devices (/dev/loop-control)")
	}
	tmp := t.TempDir()
	l := &loopFS{img: filepath.Join(tmp, fstype+".img"), dir: filepath.Join(tmp, "mnt")}
	if err := os.Mkdir(l.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(l.img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	run(t, mkfs[0], append(mkfs[1:], l.img)...)
	l.dev = run(t, "losetup", "--find", "--show", l.img)
	// Cleanups run last first: unmount, then detach. Machines the test
	// starts later are stopped before either.
	t.Cleanup(func() { l.detach(t) })
	run(t, "mount", l.dev, l.dir)
	t.Cleanup(func() { l.unmount(t) })
	return l
}

// attached reports whether the loop device is still attached to this
// test's image. The device's number alone would not do: once detached,
// another test (packages run in parallel) may attach it to its own file.
func (l *loopFS) attached() bool {
	b, err := os.ReadFile("/sys/block/" + filepath.Base(l.dev) + "/loop/backing_file")
	if err != nil {
		return false
	}
	back := strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
	return back == l.img
}

// unmount unmounts the mount point and whatever is mounted below it in
// the host's mount namespace, deepest first. A busy mount is detached
// lazily and fails the test: something the test started still uses it.
func (l *loopFS) unmount(t *testing.T) {
	var points []string
	for _, e := range hostMounts() {
		if strings.HasPrefix(e.Target, l.dir+"/") {
			points = append(points, e.Target)
		}
	}
	// mountinfo lists a mount after the one it is mounted on.
	slices.Reverse(points)
	for _, p := range append(points, l.dir) {
		err := unix.Unmount(p, 0)
		switch {
		case err == nil:
		case errors.Is(err, unix.EINVAL) && p == l.dir:
			// The test unmounted it itself.
		case errors.Is(err, unix.EBUSY):
			t.Errorf("%s is still busy at the end of the test; detaching it lazily", p)
			if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
				t.Errorf("unmount %s lazily: %v", p, err)
			}
		default:
			t.Errorf("unmount %s: %v", p, err)
		}
	}
}

// detach detaches the loop device if the test did not, and waits (up to
// 15 seconds: a machine may still be going away) until it is gone.
func (l *loopFS) detach(t *testing.T) {
	if !l.attached() {
		return
	}
	if _, err := (sysexec.Host{}).Run(context.Background(), sysexec.Cmd{Name: "losetup", Args: []string{"--detach", l.dev}, Timeout: time.Minute}); err != nil {
		t.Errorf("detach the test's loop device: %v", err)
	}
	if err := l.released(15 * time.Second); err != nil {
		t.Error(err)
	}
}

// released waits until the loop device is no longer attached to the
// test's image: it was detached and nothing holds its filesystem any
// more (a detached device that is still open stays attached until it is
// closed).
func (l *loopFS) released(limit time.Duration) error {
	for deadline := time.Now().Add(limit); l.attached(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("loop device %s (%s) is still attached %v after it was detached: something still holds its filesystem (a mount in a machine or another mount namespace, a process using it)%s", l.dev, l.img, limit, l.holders())
		}
	}
	return nil
}

// holders lists the mount namespaces that have the loop device's
// filesystem mounted, for a failure message: those of every thread, and
// those only a descriptor holds (nsfs, e.g. /proc/PID/ns/mnt opened and
// kept), each with a process that has it.
func (l *loopFS) holders() string {
	var st unix.Stat_t
	if err := unix.Stat(l.dev, &st); err != nil {
		return ""
	}
	dev := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	seen := map[string]bool{}
	var out []string
	tasks, _ := filepath.Glob("/proc/[0-9]*/task/[0-9]*")
	for _, task := range tasks {
		ns, err := os.Readlink(task + "/ns/mnt")
		if err != nil || seen[ns] {
			continue
		}
		seen[ns] = true
		entries, err := mountinfo.Read(task + "/mountinfo")
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.Dev() == dev {
				comm, _ := os.ReadFile(task + "/comm")
				out = append(out, fmt.Sprintf("%s (task %s, %s): %s", ns, strings.TrimPrefix(task, "/proc/"), strings.TrimSpace(string(comm)), e.Target))
			}
		}
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		target, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(target, "mnt:[") || seen[target] {
			continue
		}
		seen[target] = true
		pid := strings.Split(fd, "/")[2]
		comm, _ := os.ReadFile("/proc/" + pid + "/comm")
		out = append(out, fmt.Sprintf("%s held only by descriptor %s (%s), contents unknown", target, fd, strings.TrimSpace(string(comm))))
	}
	if len(out) == 0 {
		return "; no thread's mount namespace has it mounted, and no descriptor holds another namespace"
	}
	return "; " + strings.Join(out, "; ")
}

func hostMounts() []inject.MountEntry {
	entries, err := mountinfo.Read("/proc/self/mountinfo")
	if err != nil {
		panic(err)
	}
	return entries
}

// noHostMountLeaks fails t if, when the test ends, the host has mounts it
// did not have when noHostMountLeaks was called, other than under other
// tests' temporary directories (packages run in parallel).
func noHostMountLeaks(t *testing.T) {
	t.Helper()
	key := func(e inject.MountEntry) string { return e.Target + " " + e.Dev() + " " + e.Root }
	var before []string
	for _, e := range hostMounts() {
		before = append(before, key(e))
	}
	mine := t.TempDir()
	t.Cleanup(func() {
		for _, e := range hostMounts() {
			if slices.Contains(before, key(e)) {
				continue
			}
			if strings.HasPrefix(e.Target, os.TempDir()+"/") && !strings.HasPrefix(e.Target, filepath.Dir(mine)+"/") {
				continue
			}
			t.Errorf("mount leaked on the host: %s (%s %s)", e.Target, e.FSType, e.Source)
		}
	})
}

func mustErr(t *testing.T, err error, kind error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one matching %v %q", kind, want)
	}
	t.Logf("error, as wanted: %v", err)
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("error %q is not %v", err, kind)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

// owner is the uid:gid of p as the host sees it (on disk, for a mount
// that is not idmapped).
func owner(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
}
