package lvm

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// mountPoint finds where the device major:minor is mounted, according to
// a mountinfo file (proc(5)); "" when it is not mounted. The first mount
// of the device's root is preferred over bind mounts of subdirectories.
func mountPoint(path string, d devNum) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return findMount(f, d)
}

func findMount(r io.Reader, d devNum) (string, error) {
	want := d.String()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	fallback := ""
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			return "", fmt.Errorf("malformed mountinfo line %q", sc.Text())
		}
		if fields[2] != want {
			continue
		}
		mp := unescapeMount(fields[4])
		if fields[3] == "/" {
			return mp, nil
		}
		if fallback == "" {
			fallback = mp
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read mountinfo: %w", err)
	}
	return fallback, nil
}

// unescapeMount decodes the octal escapes (\040 for a space) the kernel
// writes in mountinfo paths.
func unescapeMount(s string) string {
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
