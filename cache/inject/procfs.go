package inject

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procPath is /proc/PID/name under procRoot.
func procPath(procRoot string, pid int, name string) string {
	return filepath.Join(procRoot, strconv.Itoa(pid), name)
}

// exited reports whether err, from reading /proc/PID, says the process
// is gone: ENOENT once it has been reaped, ESRCH when it was reaped
// between opening a file and reading it.
func exited(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH)
}

// nsPids returns the NSpid line of /proc/PID/status: the process's pid in
// each pid namespace from procRoot's (first) to its own (last).
func nsPids(procRoot string, pid int) ([]int, error) {
	b, err := os.ReadFile(procPath(procRoot, pid, "status"))
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "NSpid:")
		if !ok {
			continue
		}
		var pids []int
		for _, f := range strings.Fields(rest) {
			n, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("/proc/%d/status: bad NSpid %q", pid, rest)
			}
			pids = append(pids, n)
		}
		if len(pids) == 0 {
			break
		}
		return pids, nil
	}
	return nil, fmt.Errorf("/proc/%d/status has no NSpid line (kernel older than 4.1?)", pid)
}

// pidNamespace identifies pid's pid namespace ("pid:[4026531836]").
func pidNamespace(procRoot string, pid int) (string, error) {
	return os.Readlink(procPath(procRoot, pid, "ns/pid"))
}

// startTime returns field 22 of /proc/PID/stat: when the process started,
// in clock ticks after boot. With the pid, it names one process for good:
// a later process reusing the pid starts later.
func startTime(procRoot string, pid int) (uint64, error) {
	_, start, err := procStat(procRoot, pid)
	return start, err
}

// procStat returns the state (field 3: "R", "S", "Z" for a zombie…) and
// the start time (field 22) of /proc/PID/stat.
func procStat(procRoot string, pid int) (state string, start uint64, err error) {
	b, err := os.ReadFile(procPath(procRoot, pid, "stat"))
	if err != nil {
		return "", 0, err
	}
	return parseStat(string(b))
}

// parseStat reads fields 3 and 22 of a /proc/PID/stat line. The command
// name (field 2) is in parentheses and may itself hold spaces and
// parentheses, so fields are counted from the last ")".
func parseStat(stat string) (state string, start uint64, err error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return "", 0, fmt.Errorf("bad /proc stat line %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return "", 0, fmt.Errorf("short /proc stat line %q", stat)
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil || v == 0 {
		return "", 0, fmt.Errorf("bad start time %q in /proc stat line", f[19])
	}
	return f[0], v, nil
}

// idRange is one line of a uid_map or gid_map: ids inside..inside+n-1 of
// the namespace are outside..outside+n-1 outside it.
type idRange struct{ inside, outside, n uint32 }

// idMap is a user namespace's uid_map or gid_map, read from outside.
type idMap []idRange

// inside returns the id that host id outside is inside the namespace.
func (m idMap) inside(outside uint32) (uint32, bool) {
	for _, r := range m {
		if outside >= r.outside && outside-r.outside < r.n {
			return r.inside + (outside - r.outside), true
		}
	}
	return 0, false
}

// readIDMap reads a uid_map or gid_map (/proc/PID/uid_map).
func readIDMap(file string) (idMap, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var m idMap
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		r, ok := parseIDRange(f)
		if !ok {
			return nil, fmt.Errorf("%s: bad line %q", file, line)
		}
		m = append(m, r)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%s maps no ids", file)
	}
	return m, nil
}

func parseIDRange(f []string) (idRange, bool) {
	if len(f) != 3 {
		return idRange{}, false
	}
	var v [3]uint32
	for i, s := range f {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return idRange{}, false
		}
		v[i] = uint32(n)
	}
	return idRange{inside: v[0], outside: v[1], n: v[2]}, v[2] > 0
}
