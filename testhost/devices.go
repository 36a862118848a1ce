package testhost

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
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

// parseMountInfo parses /proc/self/mountinfo (proc(5)): "ID PARENT MAJ:MIN
// ROOT TARGET OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTIONS".
func parseMountInfo(data []byte) ([]mountEntry, error) {
	var mounts []mountEntry
	for n, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		f := strings.Fields(string(line))
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 7 || sep < 0 || sep+2 >= len(f) {
			return nil, fmt.Errorf("mountinfo line %d is malformed: %q", n+1, line)
		}
		maj, min, ok := strings.Cut(f[2], ":")
		ma, err1 := strconv.ParseUint(maj, 10, 32)
		mi, err2 := strconv.ParseUint(min, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("mountinfo line %d has a bad device number %q", n+1, f[2])
		}
		mounts = append(mounts, mountEntry{
			major:  uint32(ma),
			minor:  uint32(mi),
			target: unescapeMount(f[4]),
			fstype: f[sep+1],
			source: unescapeMount(f[sep+2]),
		})
	}
	return mounts, nil
}

// unescapeMount undoes the kernel's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
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
