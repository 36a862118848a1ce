package testhost

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Captured from /proc/self/mountinfo inside the test kernel (trimmed), plus
// a mount point with a space to exercise the octal escapes.
const mountinfoSample = `13 1 0:15 / / rw,relatime - hostfs /dev/root rw,/
14 13 0:5 / /dev rw,relatime - devtmpfs devtmpfs rw,mode=755
15 13 0:19 / /proc rw,relatime - proc proc rw
21 13 0:22 / /run rw,relatime - tmpfs tmpfs rw,mode=755
27 21 254:4 / /run/testhost/tmp/TestThin1/001 rw,relatime shared:5 master:1 - xfs /dev/mapper/selftest-cache rw,attr2,inode64
28 21 98:32 / /run/testhost/tmp/with\040space rw,relatime - ext4 /dev/ubdc rw
29 21 0:40 / /run/testhost/tmp/btr rw,relatime - btrfs /dev/ubdd rw,space_cache=v2
30 13 0:41 / /etc/lvm rw,relatime - tmpfs tmpfs rw
`

func TestParseMountInfo(t *testing.T) {
	mounts, err := parseMountInfo([]byte(mountinfoSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 8 {
		t.Fatalf("parsed %d mounts, want 8", len(mounts))
	}
	want := mountEntry{major: 254, minor: 4, target: "/run/testhost/tmp/TestThin1/001", fstype: "xfs", source: "/dev/mapper/selftest-cache"}
	if mounts[4] != want {
		t.Errorf("mounts[4] = %+v, want %+v", mounts[4], want)
	}
	if mounts[5].target != "/run/testhost/tmp/with space" {
		t.Errorf("escaped target = %q", mounts[5].target)
	}
	if _, err := parseMountInfo([]byte("1 2 3\n")); err == nil {
		t.Error("parseMountInfo accepted a malformed line")
	}
}

// fakeSys builds a sysfs with /sys/dev/block links like the test kernel's.
func fakeSys(t *testing.T, links map[string]string) string {
	sys := t.TempDir()
	if err := os.MkdirAll(filepath.Join(sys, "dev", "block"), 0o755); err != nil {
		t.Fatal(err)
	}
	for devno, target := range links {
		if err := os.Symlink(target, filepath.Join(sys, "dev", "block", devno)); err != nil {
			t.Fatal(err)
		}
	}
	return sys
}

func TestMountedTestDevices(t *testing.T) {
	sys := fakeSys(t, map[string]string{
		"0:15":  "../../devices/virtual/block/hostfs-should-not-exist",
		"254:4": "../../devices/virtual/block/dm-4",
		"98:32": "../../devices/platform/uml-blkdev.2/block/ubdc",
		"98:49": "../../devices/platform/uml-blkdev.3/block/ubdd/ubdd1",
		"7:0":   "../../devices/virtual/block/loop0",
	})
	mounts, err := parseMountInfo([]byte(mountinfoSample + "31 21 98:49 / /mnt/p rw - ext4 /dev/ubdd1 rw\n32 21 7:0 / /mnt/l rw - ext4 /dev/loop0 rw\n33 21 98:0 / /mnt/other rw - ext4 /dev/ubda rw\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := mountedTestDevices(sys, mounts, map[string]bool{"ubdc": true, "ubdd": true})
	var targets []string
	for _, m := range got {
		targets = append(targets, m.target)
	}
	// ubda is not a scratch disk here; the btrfs mount has an anonymous
	// device number and /dev/ubdd does not exist on this machine.
	want := []string{"/mnt/l", "/mnt/p", "/run/testhost/tmp/with space", "/run/testhost/tmp/TestThin1/001"}
	if !reflect.DeepEqual(targets, want) {
		t.Errorf("mounted test devices = %q, want %q (deepest first)", targets, want)
	}
}

func TestResolveBlock(t *testing.T) {
	sys := fakeSys(t, map[string]string{"98:1": "../../devices/platform/uml-blkdev.0/block/ubda/ubda1"})
	dev, ok := resolveBlock(sys, 98, 1)
	if !ok || dev != (blockDev{name: "ubda1", disk: "ubda"}) {
		t.Errorf("resolveBlock = %+v, %v", dev, ok)
	}
	if _, ok := resolveBlock(sys, 98, 2); ok {
		t.Error("resolveBlock found a device that does not exist")
	}
}

func TestSplitDev(t *testing.T) {
	// glibc's makedev, the encoding the kernel uses for st_rdev.
	makedev := func(major, minor uint64) uint64 {
		return minor&0xff | (major&0xfff)<<8 | (minor&^0xff)<<12 | (major&^0xfff)<<32
	}
	for _, d := range [][2]uint32{{98, 1}, {254, 4}, {7, 0}, {259, 0x100004}, {4095, 255}, {4096, 256}} {
		ma, mi := splitDev(makedev(uint64(d[0]), uint64(d[1])))
		if ma != d[0] || mi != d[1] {
			t.Errorf("splitDev(makedev(%d, %d)) = %d:%d", d[0], d[1], ma, mi)
		}
	}
}
