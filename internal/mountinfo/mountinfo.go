// Package mountinfo parses /proc/PID/mountinfo (proc(5)): the one reader
// of mount tables for the LVM provider, the cache stores, the agent's
// mount injection and the test harness.
package mountinfo

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Entry is one line of a mountinfo file:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// six fields, optional fields up to "-", then type, source and the
// filesystem's (super) options.
type Entry struct {
	ID, ParentID int
	// Major and Minor are the device of the mounted filesystem's
	// superblock: a block device for ext4 or xfs, an anonymous device
	// (major 0) for btrfs, tmpfs and the like.
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
	// SuperOptions are the filesystem's options ("rw,subvolid=256,...").
	SuperOptions string
}

// Dev renders the device as mountinfo does ("253:4").
func (e Entry) Dev() string { return fmt.Sprintf("%d:%d", e.Major, e.Minor) }

// HasSuperOption reports whether the filesystem options hold opt exactly
// ("subvolid=256").
func (e Entry) HasSuperOption(opt string) bool {
	for o := range strings.SplitSeq(e.SuperOptions, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// Read parses the mountinfo file at path ("/proc/self/mountinfo").
func Read(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}

// Parse parses the mountinfo format. Blank lines are skipped; any other
// line that does not parse is an error naming its number.
func Parse(r io.Reader) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		e, err := parseLine(line)
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

func parseLine(line string) (Entry, error) {
	f := strings.Split(line, " ")
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || len(f) < sep+3 {
		return Entry{}, fmt.Errorf("malformed: %q", line)
	}
	var e Entry
	var err error
	if e.ID, err = strconv.Atoi(f[0]); err != nil {
		return Entry{}, fmt.Errorf("bad mount id in %q", line)
	}
	if e.ParentID, err = strconv.Atoi(f[1]); err != nil {
		return Entry{}, fmt.Errorf("bad parent id in %q", line)
	}
	maj, min, ok := strings.Cut(f[2], ":")
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(min, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return Entry{}, fmt.Errorf("bad device %q in %q", f[2], line)
	}
	e.Major, e.Minor = uint32(ma), uint32(mi)
	e.Root = Unescape(f[3])
	e.Target = Unescape(f[4])
	e.Options = f[5]
	e.FSType = Unescape(f[sep+1])
	e.Source = Unescape(f[sep+2])
	if len(f) > sep+3 {
		e.SuperOptions = f[sep+3]
	}
	return e, nil
}

// Unescape undoes the kernel's \NNN octal escapes of space, tab, newline
// and backslash in mountinfo fields.
func Unescape(s string) string {
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
