package testhost

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/rigplan/rigplan/internal/mountinfo"
)

// mountEntry is one line of /proc/self/mountinfo, reduced to what the
// cleanup needs.
type mountEntry struct {
	major, minor uint32
	target       string
	fstype       string
	source       string
}

func (m mountEntry) String() string {
	return fmt.Sprintf("%s (%s, %d:%d) on %s", m.source, m.fstype, m.major, m.minor, m.target)
}

// parseMountInfo parses /proc/self/mountinfo (proc(5)).
func parseMountInfo(data []byte) ([]mountEntry, error) {
	entries, err := mountinfo.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	mounts := make([]mountEntry, len(entries))
	for i, e := range entries {
		mounts[i] = mountEntry{major: e.Major, minor: e.Minor, target: e.Target, fstype: e.FSType, source: e.Source}
	}
	return mounts, nil
}

// blockDev names a block device the way the kernel does: name is "ubda1",
// "dm-3" or "loop0"; disk is the whole disk it belongs to ("ubda" for
// "ubda1", the name itself for a whole disk).
type blockDev struct {
	name, disk string
}

// resolveBlock finds the block device with a device number in sysfs.
func resolveBlock(sys string, major, minor uint32) (blockDev, bool) {
	link, err := os.Readlink(filepath.Join(sys, "dev", "block", fmt.Sprintf("%d:%d", major, minor)))
	if err != nil {
		return blockDev{}, false
	}
	// …/block/ubda/ubda1 for a partition, …/block/dm-0 for a disk.
	parts := strings.Split(filepath.ToSlash(link), "/")
	for i, p := range parts {
		if p == "block" && i+1 < len(parts) {
			dev := blockDev{name: parts[len(parts)-1], disk: parts[i+1]}
			return dev, true
		}
	}
	return blockDev{}, false
}

// testDevice reports whether a block device is one a test could have made
// or used: a scratch disk or one of its partitions, a device-mapper device
// or a loop device. Inside the test kernel there are no others.
func testDevice(dev blockDev, scratch map[string]bool) bool {
	return scratch[dev.disk] || strings.HasPrefix(dev.name, "dm-") || strings.HasPrefix(dev.name, "loop")
}

// mountedTestDevices lists the mounts of test devices, deepest first (the
// order to unmount them in). btrfs reports an anonymous device number, so
// the source is resolved as well.
func mountedTestDevices(sys string, mounts []mountEntry, scratch map[string]bool) []mountEntry {
	var found []mountEntry
	for _, m := range mounts {
		dev, ok := resolveBlock(sys, m.major, m.minor)
		if !ok || !testDevice(dev, scratch) {
			dev, ok = sourceDevice(sys, m.source)
		}
		if ok && testDevice(dev, scratch) {
			found = append(found, m)
		}
	}
	// mountinfo lists parents before children: unmount in reverse.
	for i, j := 0, len(found)-1; i < j; i, j = i+1, j-1 {
		found[i], found[j] = found[j], found[i]
	}
	return found
}

func sourceDevice(sys, source string) (blockDev, bool) {
	if !strings.HasPrefix(source, "/dev/") {
		return blockDev{}, false
	}
	var st syscall.Stat_t
	if err := syscall.Stat(source, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFBLK {
		return blockDev{}, false
	}
	major, minor := splitDev(st.Rdev)
	return resolveBlock(sys, major, minor)
}

// splitDev splits a Linux dev_t (glibc's encoding, as the kernel returns it).
func splitDev(dev uint64) (major, minor uint32) {
	major = uint32((dev>>8)&0xfff | (dev>>32)&^0xfff)
	minor = uint32(dev&0xff | (dev>>12)&^0xff)
	return major, minor
}

// dmDevices lists device-mapper devices as "dm-N (name)".
func dmDevices(sys string) []string {
	paths, _ := filepath.Glob(filepath.Join(sys, "block", "dm-*"))
	var devs []string
	for _, p := range paths {
		name, _ := os.ReadFile(filepath.Join(p, "dm", "name"))
		devs = append(devs, fmt.Sprintf("%s (%s)", filepath.Base(p), strings.TrimSpace(string(name))))
	}
	sort.Strings(devs)
	return devs
}

// attachedLoops lists loop devices with a backing file, as "/dev/loopN → file".
func attachedLoops(sys string) []string {
	paths, _ := filepath.Glob(filepath.Join(sys, "block", "loop*", "loop", "backing_file"))
	var loops []string
	for _, p := range paths {
		file, _ := os.ReadFile(p)
		dev := filepath.Base(filepath.Dir(filepath.Dir(p)))
		loops = append(loops, fmt.Sprintf("/dev/%s → %s", dev, strings.TrimSpace(string(file))))
	}
	sort.Strings(loops)
	return loops
}

// partitions lists the partitions the kernel knows on a disk ("/dev/ubda1").
func partitions(sys, disk string) []string {
	paths, _ := filepath.Glob(filepath.Join(sys, "block", disk, disk+"*", "partition"))
	var parts []string
	for _, p := range paths {
		parts = append(parts, "/dev/"+filepath.Base(filepath.Dir(p)))
	}
	sort.Strings(parts)
	return parts
}
