package selftest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rigplan/rigplan/testhost"
)

const tmpfsMagic = 0x01021994

func TestKernelIsUML61WithDeviceMapper(t *testing.T) {
	k := testhost.Kernel(t)

	version, err := os.ReadFile("/proc/version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(version), "Linux version 6.1.") {
		t.Errorf("/proc/version = %q, want the UML 6.1 kernel", version)
	}
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cpuinfo), "User Mode Linux") {
		t.Errorf("/proc/cpuinfo does not say User Mode Linux:\n%s", cpuinfo)
	}
	targets := run(t, "dmsetup", "targets")
	for _, want := range []string{"thin-pool", "thin", "snapshot", "zero"} {
		if !containsField(targets, want) {
			t.Errorf("device-mapper target %s missing; dmsetup targets:\n%s", want, targets)
		}
	}
	disks := k.Disks()
	if len(disks) != 4 {
		t.Fatalf("Disks() = %v, want 4 scratch disks", disks)
	}
	for _, d := range disks {
		size := strings.TrimSpace(run(t, "blockdev", "--getsize64", d))
		if size != "8589934592" {
			t.Errorf("%s is %s bytes, want 8 GiB", d, size)
		}
	}
}

func containsField(text, word string) bool {
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == word {
			return true
		}
	}
	return false
}

// LVM writes a metadata backup of every VG it changes. Through hostfs that
// would land in the host's /etc/lvm; the harness shadows it with tmpfs.
func TestLVMNeverWritesToHostEtcLVM(t *testing.T) {
	k := testhost.Kernel(t)
	for _, dir := range []string{"/etc/lvm", "/etc/lvm/backup", "/etc/lvm/archive", os.TempDir()} {
		var fs syscall.Statfs_t
		if err := syscall.Statfs(dir, &fs); err != nil {
			t.Fatal(err)
		}
		if fs.Type != tmpfsMagic {
			t.Errorf("%s is on filesystem type %#x, want tmpfs", dir, fs.Type)
		}
	}

	const vg = "selftest_etc_lvm"
	run(t, "vgcreate", vg, k.Disks()[0])
	if _, err := os.Stat("/etc/lvm/backup/" + vg); err != nil {
		t.Errorf("LVM wrote no backup of %s into the test kernel's /etc/lvm/backup: %v", vg, err)
	}

	// Look at the host's real /etc/lvm through a second hostfs mount.
	host := t.TempDir()
	run(t, "mount", "-t", "hostfs", "none", host, "-o", "/etc/lvm")
	t.Cleanup(func() { run(t, "umount", host) })
	if _, err := os.Stat(filepath.Join(host, "lvm.conf")); err != nil {
		t.Fatalf("the host's /etc/lvm is not visible through hostfs: %v", err)
	}
	for _, sub := range []string{"backup", "archive"} {
		entries, _ := os.ReadDir(filepath.Join(host, sub))
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), vg) {
				t.Errorf("the host's /etc/lvm/%s has %s: LVM inside the test kernel wrote to the host", sub, e.Name())
			}
		}
	}
}
