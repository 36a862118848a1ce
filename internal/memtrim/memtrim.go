// Package memtrim lets a long-running rigplan process give back the pages
// of its own binary that only start-up touched.
//
// rigplan is one binary: the CLI links containers/image and its
// dependencies (gRPC, protobuf, progress bars), whose package
// initialisers run in every process and fault in about 17 MB of the
// executable's text and read-only data. The cache agent (`rigplan cache
// serve`) never runs that code again, yet the pages stay resident.
// Release drops them: they are clean, read-only, file-backed pages, so
// the kernel simply forgets them and faults in again, from the page cache,
// whatever the process runs later. Nothing writable is touched.
package memtrim

import (
	"bufio"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Release drops the resident pages of the executable's read-only mappings
// and returns the heap start-up left behind to the kernel. It is safe at
// any time; what is still in use is faulted in again.
func Release() error {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return fmt.Errorf("memtrim: %w", err)
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return fmt.Errorf("memtrim: %w", err)
	}
	defer f.Close()
	var ranges [][2]uintptr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 00400000-004af000 r-xp 00000000 fd:01 1234  /usr/local/bin/rigplan
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.ContainsRune(fields[1], 'w') {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			return fmt.Errorf("memtrim: malformed line in /proc/self/maps: %q", sc.Text())
		}
		ranges = append(ranges, [2]uintptr{uintptr(start), uintptr(end)})
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("memtrim: read /proc/self/maps: %w", err)
	}
	for _, r := range ranges {
		// The raw call: these are addresses from the kernel's own map, not
		// Go memory, so there is no slice to hand unix.Madvise.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r[0], r[1]-r[0], unix.MADV_DONTNEED); errno != 0 {
			return fmt.Errorf("memtrim: madvise %#x-%#x: %w", r[0], r[1], errno)
		}
	}
	debug.FreeOSMemory()
	return nil
}
