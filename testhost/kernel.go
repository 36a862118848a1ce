package testhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rigplan/rigplan/internal/sysexec"
)

// K is the test kernel, as seen by one test running inside it.
type K struct {
	disks []string
	sys   string // sysfs mount point
	run   sysexec.Runner
}

// Disks returns the scratch block devices (/dev/ubda … /dev/ubdd): sparse,
// 8 GiB each, free of signatures, partitions and volume groups when the test
// starts, and returned to that state after it.
func (k *K) Disks() []string {
	return append([]string(nil), k.disks...)
}

// Kernel returns the test kernel when the test runs inside one, of either
// flavour (Main's, or MainSystemd's: see SystemdHost). Outside, it
// skips the test naming what is missing ("needs root", "needs
// user-mode-linux: apt-get install user-mode-linux"), or fails it when the
// kernel could run but the package's TestMain does not use Main.
//
// Kernel registers a cleanup that returns the scratch disks to a clean state
// and fails the test if it leaked mounts, device-mapper devices outside LVM
// or loop devices. Tests using Kernel must not run in parallel with each
// other; a subtest may call Kernel again and shares its parent's disks.
func Kernel(t testing.TB) *K {
	t.Helper()
	if _, ok := insideBoot(); !ok {
		_, missing := checkHost(realHostFacts(context.Background()))
		if len(missing) > 0 {
			t.Skip("testhost: " + strings.Join(missing, "; "))
		}
		t.Fatal("testhost: the test kernel can run here but this test is not inside it: " +
			"the package needs func TestMain(m *testing.M) { os.Exit(testhost.Main(m)) }")
	}
	k := &K{
		disks: strings.Split(os.Getenv(envDisks), ","),
		sys:   "/sys",
		run:   sysexec.Host{},
	}
	if err := k.checkReady(); err != nil {
		t.Fatalf("testhost: the test kernel is not ready: %v\nwhat PID 1 said while preparing it:\n%s", err, initLog())
	}
	nested, err := claimDisks(t.Name())
	if err != nil {
		t.Fatalf("testhost: %v", err)
	}
	if nested {
		return k
	}
	t.Cleanup(func() {
		t.Helper() // report at the test's call of Kernel
		defer releaseDisks()
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		leaks, err := k.reset(ctx)
		if len(leaks) > 0 {
			t.Errorf("testhost: the test leaked (the harness cleaned it up):\n  %s", strings.Join(leaks, "\n  "))
		}
		if err != nil {
			t.Errorf("testhost: cleaning the scratch disks after the test: %v", err)
		}
	})
	if takeCleanMark() {
		return k // the previous test's cleanup verified them
	}
	if st, err := k.survey(context.Background(), true); err != nil {
		t.Fatalf("testhost: reading the state of the scratch disks: %v", err)
	} else if !st.clean() {
		t.Fatalf("testhost: the scratch disks are not clean at the start of the test (an earlier test's cleanup failed; see its errors):%s", st)
	}
	return k
}

// insideBoot returns the boot token when this process runs inside a test
// kernel that Main booted: the token in the environment must match the one
// on the kernel command line, so a stray variable on the host never counts.
func insideBoot() (string, bool) {
	token := os.Getenv(envBoot)
	if token == "" {
		return "", false
	}
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return "", false
	}
	for _, f := range strings.Fields(string(cmdline)) {
		if f == cmdlineToken+"="+token {
			return token, true
		}
	}
	return "", false
}

// checkReady verifies what PID 1 prepared, before any test touches LVM.
func (k *K) checkReady() error {
	if len(k.disks) == 0 || k.disks[0] == "" {
		return fmt.Errorf("%s lists no scratch disks", envDisks)
	}
	for _, d := range k.disks {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode()&os.ModeDevice == 0 {
			return fmt.Errorf("scratch disk %s is not a block device (%v)", d, err)
		}
	}
	// The safety net for the host: LVM must write its backups into the
	// test kernel's tmpfs, never through hostfs into the host's /etc/lvm.
	// (The systemd test host's root is its own, under a per-boot overlay.)
	var fs syscall.Statfs_t
	if systemdBooted() {
		if err := syscall.Statfs("/", &fs); err != nil || fs.Type != overlayfsMagic {
			return fmt.Errorf("/ is not the per-boot overlay (statfs: type %#x, %v): refusing to let the tests write into the cached root", fs.Type, err)
		}
	} else if err := syscall.Statfs("/etc/lvm", &fs); err != nil || fs.Type != tmpfsMagic {
		return fmt.Errorf("/etc/lvm is not the harness's tmpfs copy (statfs: type %#x, %v): refusing to let LVM write into the host's /etc/lvm", fs.Type, err)
	}
	for _, mod := range []string{"dm_mod", "dm_thin_pool", "dm_snapshot"} {
		if _, err := os.Stat(filepath.Join(k.sys, "module", mod)); err != nil {
			return fmt.Errorf("kernel module %s is not loaded", mod)
		}
	}
	return nil
}

// Filesystem types from linux/magic.h.
const (
	tmpfsMagic     = 0x01021994
	overlayfsMagic = 0x794c7630
)

// initLog is what PID 1 printed while preparing the kernel.
func initLog() string {
	b, err := os.ReadFile(filepath.Join(runDir, "init.log"))
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// ownerFile records which test holds the scratch disks. It lives on the
// test kernel's tmpfs, so it is per boot and shared by every test in it.
func ownerFile() string { return filepath.Join(runDir, "disks-owner") }

// claimDisks gives the disks to test name. A subtest of the holder shares
// them (nested is true: the holder's cleanup covers it); any other test is
// refused, because tests sharing the disks at once would trample each other.
func claimDisks(name string) (nested bool, err error) {
	f, err := os.OpenFile(ownerFile(), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err == nil {
		_, err = f.WriteString(name)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return false, err
	}
	if !errors.Is(err, os.ErrExist) {
		return false, fmt.Errorf("claiming the scratch disks: %w", err)
	}
	holder, err := os.ReadFile(ownerFile())
	if err != nil {
		return false, fmt.Errorf("claiming the scratch disks: %w", err)
	}
	if strings.HasPrefix(name, string(holder)+"/") {
		return true, nil
	}
	return false, fmt.Errorf("the scratch disks are in use by %s: tests that call testhost.Kernel share the disks and must not run in parallel (remove t.Parallel)", holder)
}

func releaseDisks() { os.Remove(ownerFile()) }

// Inside reports whether this process runs inside the test kernel, for a
// TestMain that prepares things on the host (such as building a binary)
// before Main boots the kernel.
func Inside() bool {
	_, ok := insideBoot()
	return ok
}
