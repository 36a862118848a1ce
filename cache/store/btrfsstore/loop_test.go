package btrfsstore

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store/storetest"
	"github.com/rigplan/rigplan/internal/mountinfo"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/internal/testns"
)

// TestMain runs the tests in a mount namespace of their own (package
// testns): the store's scan of every namespace on the host is still
// tested, on the namespaces the tests make themselves.
func TestMain(m *testing.M) { os.Exit(testns.Main(m)) }

// sh runs a host command for a test's setup, through sysexec like the
// rest of rigplan.
func sh(t testing.TB, name string, args ...string) string {
	t.Helper()
	res, err := (sysexec.Host{}).Run(context.Background(), sysexec.Cmd{Name: name, Args: args, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return string(res.Stdout)
}

// needBtrfs skips the test, naming what is missing, unless this host can
// make and mount a btrfs filesystem on a loop device.
func needBtrfs(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("btrfsstore: needs root (to set up a loop device and mount btrfs)")
	}
	tools := []struct{ name, pkg string }{{"mkfs.btrfs", "btrfs-progs"}, {"btrfs", "btrfs-progs"}, {"losetup", "util-linux"}, {"unshare", "util-linux"}, {"df", "coreutils"}}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool.name); err != nil {
			t.Skipf("btrfsstore: needs %s (apt-get install %s)", tool.name, tool.pkg)
		}
	}
	fss, err := os.ReadFile("/proc/filesystems")
	if err != nil || !strings.Contains(string(fss), "\tbtrfs\n") {
		// The module may be loadable; mount(2) would load it, but a
		// clear skip beats a confusing failure.
		modprobe := sysexec.Cmd{Name: "modprobe", Args: []string{"btrfs"}, Timeout: time.Minute}
		if _, err := (sysexec.Host{}).Run(context.Background(), modprobe); err != nil {
			t.Skipf("btrfsstore: the kernel has no btrfs (modprobe btrfs: %v)", err)
		}
	}
}

// loopBtrfs makes a btrfs filesystem of size bytes in a sparse file on a
// loop device, mounts it (with mount options opts, if any) and returns
// the mount point. Everything is undone
// when the test ends, whether it passed or not: mounts below the mount
// point first, then the filesystem, then the loop device.
func loopBtrfs(t testing.TB, size int64, opts ...string) string {
	t.Helper()
	needBtrfs(t)
	img := filepath.Join(t.TempDir(), "btrfs.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sh(t, "mkfs.btrfs", "-q", img)
	dev := strings.TrimSpace(sh(t, "losetup", "--find", "--show", img))
	t.Cleanup(func() { sh(t, "losetup", "--detach", dev) })
	mnt := t.TempDir()
	if err := unix.Mount(dev, mnt, "btrfs", 0, strings.Join(opts, ",")); err != nil {
		t.Fatalf("mount %s: %v", dev, err)
	}
	t.Cleanup(func() {
		for _, m := range mountsUnder(t, mnt) {
			t.Errorf("the test left %s mounted", m)
			if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", m, err)
			}
		}
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount the test filesystem %s: %v", mnt, err)
		}
	})
	return mnt
}

// mountsUnder lists this namespace's mount points strictly below dir and
// those of its bind mounts elsewhere, deepest first.
func mountsUnder(t testing.TB, dir string) []string {
	t.Helper()
	all, err := mountinfo.Read("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var dev string
	for _, e := range all {
		if e.Target == dir {
			dev = e.Dev()
		}
	}
	var out []string
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Target != dir && all[i].Dev() == dev {
			out = append(out, all[i].Target)
		}
	}
	return out
}

// newStore makes a loop btrfs with a default subvolume "default" holding
// storetest.DefaultFile, and a store over its directory "snaps".
func newStore(t testing.TB, size int64) (*Store, string) {
	t.Helper()
	return newStoreWith(t, size, Config{})
}

// newStoreWith is newStore with more of the store's configuration (cfg's
// Dir and Default are set here) and mount options for the filesystem.
func newStoreWith(t testing.TB, size int64, cfg Config, opts ...string) (*Store, string) {
	t.Helper()
	mnt := loopBtrfs(t, size, opts...)
	def := filepath.Join(mnt, "default")
	sh(t, "btrfs", "subvolume", "create", def)
	if err := os.WriteFile(filepath.Join(def, storetest.DefaultFile), []byte(storetest.DefaultContent), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mnt, "snaps")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg.Dir, cfg.Default = dir, def
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, mnt
}
