package btrfsstore

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rigplan/rigplan/internal/mountinfo"
)

// filesystemDev returns the device number (as mountinfo writes it) of the
// btrfs filesystem that holds path, from a mountinfo: that of the mount
// with the longest mount point that is path or a parent of it.
func filesystemDev(lines []mountinfo.Entry, path string) (string, error) {
	best := -1
	for i, l := range lines {
		if l.Target == path || l.Target == "/" || strings.HasPrefix(path, l.Target+"/") {
			if best < 0 || len(l.Target) >= len(lines[best].Target) {
				best = i
			}
		}
	}
	if best < 0 {
		return "", fmt.Errorf("no mount holds %s", path)
	}
	if lines[best].FSType != "btrfs" {
		return "", fmt.Errorf("%s is on %s (mounted at %s), not btrfs", path, lines[best].FSType, lines[best].Target)
	}
	return lines[best].Dev(), nil
}

// mountsOf returns the mount points of subvolume id of filesystem dev
// in a mountinfo.
func mountsOf(lines []mountinfo.Entry, dev string, id uint64) []string {
	var out []string
	for _, l := range lines {
		if got, ok := subvolumeOf(l, dev); ok && got == id {
			out = append(out, l.Target)
		}
	}
	return out
}

// subvolumeOf returns the subvolume id a mount of filesystem dev shows
// (its subvolid= option), and false for a mount of anything else.
func subvolumeOf(l mountinfo.Entry, dev string) (uint64, bool) {
	if l.Dev() != dev || l.FSType != "btrfs" {
		return 0, false
	}
	for o := range strings.SplitSeq(l.SuperOptions, ",") {
		if v, ok := strings.CutPrefix(o, "subvolid="); ok {
			id, err := strconv.ParseUint(v, 10, 64)
			return id, err == nil
		}
	}
	return 0, false
}

// mountedAnywhere looks for mounts of the subvolumes ids of filesystem
// dev in every mount namespace on the host: the host's own, and those of
// the machines the agent moved mounts into. btrfs deletes a subvolume
// that is bind-mounted somewhere without complaint, leaving that mount
// empty, so the store must look before it deletes. It reads
// /proc/PID/mountinfo once per mount namespace. It returns the first
// mount found, its subvolume and a description, or "".
func mountedAnywhere(proc, dev string, ids map[uint64]bool) (uint64, string, error) {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return 0, "", err
	}
	find := func(lines []mountinfo.Entry) (uint64, string) {
		for _, l := range lines {
			if id, ok := subvolumeOf(l, dev); ok && ids[id] {
				return id, l.Target
			}
		}
		return 0, ""
	}
	seen := map[string]bool{}
	// This process's namespace first, so a mount here is named as such.
	if ns, err := os.Readlink(filepath.Join(proc, "self", "ns", "mnt")); err == nil {
		lines, err := mountinfo.Read(filepath.Join(proc, "self", "mountinfo"))
		if err != nil {
			return 0, "", err
		}
		seen[ns] = true
		if id, mp := find(lines); mp != "" {
			return id, fmt.Sprintf("mounted at %s in the agent's own mount namespace", mp), nil
		}
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		ns, err := os.Readlink(filepath.Join(proc, e.Name(), "ns", "mnt"))
		if err != nil || seen[ns] {
			continue // the process is gone, or its namespace was read
		}
		lines, err := mountinfo.Read(filepath.Join(proc, e.Name(), "mountinfo"))
		if err != nil {
			continue // the process exited before or while we read
		}
		seen[ns] = true
		if id, mp := find(lines); mp != "" {
			return id, fmt.Sprintf("mounted at %s in the mount namespace of pid %s", mp, e.Name()), nil
		}
	}
	return 0, "", nil
}
