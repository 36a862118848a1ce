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

// loopFS makes a filesystem of type fstype on a loop device and mounts it
// at a new directory. The cleanup unmounts and detaches it if the test did
// not.
func loopFS(t *testing.T, fstype string) (dir, dev string) {
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
	img, dir := filepath.Join(tmp, fstype+".img"), filepath.Join(tmp, "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	run(t, mkfs[0], append(mkfs[1:], img)...)
	dev = run(t, "losetup", "--find", "--show", img)
	t.Cleanup(func() {
		if mounted(dir) {
			if _, err := (sysexec.Host{}).Run(context.Background(), sysexec.Cmd{Name: "umount", Args: []string{dir}, Timeout: time.Minute}); err != nil {
				t.Error(err)
			}
		}
		if _, err := os.Stat(loopSys(dev) + "/loop/backing_file"); err == nil {
			sysexec.Host{}.Run(context.Background(), sysexec.Cmd{Name: "losetup", Args: []string{"-d", dev}, Timeout: time.Minute})
		}
	})
	run(t, "mount", dev, dir)
	return dir, dev
}

// loopSys is the sysfs directory of a loop device (/sys/block/loop3).
func loopSys(dev string) string { return "/sys/block/" + filepath.Base(dev) }

// mounted reports whether dir is a mount point in the host's namespace.
func mounted(dir string) bool {
	for _, e := range hostMounts() {
		if e.Target == dir {
			return true
		}
	}
	return false
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

// released waits until the loop device dev no longer has a backing file
// (it was detached and nothing holds its filesystem any more).
func released(t *testing.T, dev string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(loopSys(dev) + "/loop/backing_file"); errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still in use after the machine powered off and the host unmounted it: the machine's mount leaked", dev)
		}
	}
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
