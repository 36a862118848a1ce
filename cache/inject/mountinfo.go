package inject

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// MountEntry is one line of /proc/PID/mountinfo.
type MountEntry struct {
	ID, ParentID int
	// Major and Minor are the device of the mounted filesystem's
	// superblock: a block device for ext4 or xfs (the thin volume), an
	// anonymous device (major 0) for btrfs, tmpfs and the like.
	Major, Minor uint32
	// Root is the directory of the filesystem mounted here ("/" for the
	// whole filesystem; a btrfs subvolume or a bind's source directory
	// otherwise).
	Root string
	// Target is where it is mounted, as seen in the namespace read.
	Target string
	// Options are the per-mount options ("rw,relatime,idmapped").
	Options string
	FSType  string
	Source  string
}

// Dev renders the device as mountinfo does ("253:4").
func (e MountEntry) Dev() string { return fmt.Sprintf("%d:%d", e.Major, e.Minor) }

// Mounts lists the mounts inside machine m, from its leader's
// /proc/PID/mountinfo. The agent uses it after a restart to learn which
// snapshots (by device, or by btrfs subvolume Root) are still mounted in
// live machines.
func Mounts(ctx context.Context, m Machine) ([]MountEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkLeader(m); err != nil {
		return nil, err
	}
	f, err := os.Open(procPath("/proc", m.Leader, "mountinfo"))
	if err != nil {
		return nil, fmt.Errorf("machine %q: read its mounts: %w", m.Name, err)
	}
	defer f.Close()
	entries, err := ParseMountinfo(f)
	if err != nil {
		return nil, fmt.Errorf("machine %q: %w", m.Name, err)
	}
	// What was read is the machine's only if the leader is still the same
	// process.
	if err := checkLeader(m); err != nil {
		return nil, err
	}
	return entries, nil
}

// ParseMountinfo parses the format of /proc/PID/mountinfo (proc(5)).
func ParseMountinfo(r io.Reader) ([]MountEntry, error) {
	var out []MountEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		e, err := parseMountinfoLine(line)
		if err != nil {
			return nil, fmt.Errorf("mountinfo line %d: %w", n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return out, nil
}

// parseMountinfoLine parses
// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue":
// six fields, optional fields up to "-", then type, source, super options.
func parseMountinfoLine(line string) (MountEntry, error) {
	f := strings.Split(line, " ")
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if len(f) < 6 || sep < 0 || len(f) < sep+3 {
		return MountEntry{}, fmt.Errorf("malformed: %q", line)
	}
	var e MountEntry
	var err error
	if e.ID, err = strconv.Atoi(f[0]); err != nil {
		return MountEntry{}, fmt.Errorf("bad mount id in %q", line)
	}
	if e.ParentID, err = strconv.Atoi(f[1]); err != nil {
		return MountEntry{}, fmt.Errorf("bad parent id in %q", line)
	}
	maj, min, ok := strings.Cut(f[2], ":")
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(min, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return MountEntry{}, fmt.Errorf("bad device %q in %q", f[2], line)
	}
	e.Major, e.Minor = uint32(ma), uint32(mi)
	e.Root = unescapeOctal(f[3])
	e.Target = unescapeOctal(f[4])
	e.Options = f[5]
	e.FSType = unescapeOctal(f[sep+1])
	e.Source = unescapeOctal(f[sep+2])
	return e, nil
}

// unescapeOctal undoes the kernel's \NNN escapes of space, tab, newline
// and backslash in mountinfo fields.
func unescapeOctal(s string) string {
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
