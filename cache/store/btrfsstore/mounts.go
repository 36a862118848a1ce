package btrfsstore

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// mountLine is what the store reads from one line of a mountinfo file
// (proc(5)).
type mountLine struct {
	dev        string // major:minor of the filesystem
	mountPoint string
	fstype     string
	options    []string // super options
}

// parseMountinfo reads a mountinfo file.
func parseMountinfo(r io.Reader) ([]mountLine, error) {
	var out []mountLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 {
			return nil, fmt.Errorf("malformed mountinfo line %q", sc.Text())
		}
		out = append(out, mountLine{dev: f[2], mountPoint: unescape(f[4]), fstype: g[0], options: strings.Split(g[2], ",")})
	}
	return out, sc.Err()
}

// unescape decodes the octal escapes (\040 for a space) of mountinfo paths.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// filesystemDev returns the device number (as mountinfo writes it) of the
// btrfs filesystem that holds path, from a mountinfo: that of the mount
// with the longest mount point that is path or a parent of it.
func filesystemDev(lines []mountLine, path string) (string, error) {
	best := -1
	for i, l := range lines {
		if l.mountPoint == path || l.mountPoint == "/" || strings.HasPrefix(path, l.mountPoint+"/") {
			if best < 0 || len(l.mountPoint) >= len(lines[best].mountPoint) {
				best = i
			}
		}
	}
	if best < 0 {
		return "", fmt.Errorf("no mount holds %s", path)
	}
	if lines[best].fstype != "btrfs" {
		return "", fmt.Errorf("%s is on %s (mounted at %s), not btrfs", path, lines[best].fstype, lines[best].mountPoint)
	}
	return lines[best].dev, nil
}

// mountsOf returns the mount points of subvolume id of filesystem dev
// in a mountinfo.
func mountsOf(lines []mountLine, dev string, id uint64) []string {
	want := "subvolid=" + strconv.FormatUint(id, 10)
	var out []string
	for _, l := range lines {
		if l.dev != dev || l.fstype != "btrfs" {
			continue
		}
		for _, o := range l.options {
			if o == want {
				out = append(out, l.mountPoint)
				break
			}
		}
	}
	return out
}

// mountedAnywhere looks for mounts of subvolume id of filesystem dev in
// every mount namespace on the host: the host's own, and those of the
// machines the agent moved mounts into. btrfs deletes a subvolume that is
// bind-mounted somewhere without complaint, leaving that mount empty, so
// the store must look before it deletes. It reads /proc/PID/mountinfo
// once per mount namespace. It returns a description of the first mount
// found, or "".
func mountedAnywhere(proc, dev string, id uint64) (string, error) {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return "", err
	}
	seen := map[string]bool{}
	// This process's namespace first, so a mount here is named as such.
	if ns, err := os.Readlink(filepath.Join(proc, "self", "ns", "mnt")); err == nil {
		f, err := os.Open(filepath.Join(proc, "self", "mountinfo"))
		if err != nil {
			return "", err
		}
		lines, err := parseMountinfo(f)
		f.Close()
		if err != nil {
			return "", err
		}
		seen[ns] = true
		if mps := mountsOf(lines, dev, id); len(mps) > 0 {
			return fmt.Sprintf("mounted at %s in the agent's own mount namespace", mps[0]), nil
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
		f, err := os.Open(filepath.Join(proc, e.Name(), "mountinfo"))
		if err != nil {
			continue
		}
		lines, err := parseMountinfo(f)
		f.Close()
		if err != nil {
			continue // the process exited while we read
		}
		seen[ns] = true
		if mps := mountsOf(lines, dev, id); len(mps) > 0 {
			return fmt.Sprintf("mounted at %s in the mount namespace of pid %s", mps[0], e.Name()), nil
		}
	}
	return "", nil
}
