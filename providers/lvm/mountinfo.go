package lvm

import (
	"github.com/rigplan/rigplan/internal/mountinfo"
)

// mountPoint finds where the device major:minor is mounted, according to
// a mountinfo file (proc(5)); "" when it is not mounted. The first mount
// of the device's root is preferred over bind mounts of subdirectories.
func mountPoint(path string, d devNum) (string, error) {
	entries, err := mountinfo.Read(path)
	if err != nil {
		return "", err
	}
	return findMount(entries, d), nil
}

func findMount(entries []mountinfo.Entry, d devNum) string {
	fallback := ""
	for _, e := range entries {
		if e.Major != uint32(d.Major) || e.Minor != uint32(d.Minor) {
			continue
		}
		if e.Root == "/" {
			return e.Target
		}
		if fallback == "" {
			fallback = e.Target
		}
	}
	return fallback
}
