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
	b, err := os.ReadFile(procPath(procRoot, pid, "stat"))
	if err != nil {
		return 0, err
	}
	return parseStartTime(string(b))
}

// parseStartTime reads field 22 of a /proc/PID/stat line. The command name
// (field 2) is in parentheses and may itself hold spaces and parentheses,
// so fields are counted from the last ")".
func parseStartTime(stat string) (uint64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad /proc stat line %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field 22 is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("short /proc stat line %q", stat)
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("bad start time %q in /proc stat line", f[19])
	}
	return v, nil
}

// rootIDs returns the host uid and gid that are root inside pid's user
// namespace, from its uid_map and gid_map.
func rootIDs(procRoot string, pid int) (uid, gid int, err error) {
	if uid, err = mapRoot(procPath(procRoot, pid, "uid_map")); err != nil {
		return 0, 0, err
	}
	if gid, err = mapRoot(procPath(procRoot, pid, "gid_map")); err != nil {
		return 0, 0, err
	}
	return uid, gid, nil
}

// mapRoot finds the outside id of inside id 0 in a uid_map or gid_map.
func mapRoot(file string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		inside, err1 := strconv.ParseUint(f[0], 10, 32)
		outside, err2 := strconv.ParseUint(f[1], 10, 32)
		n, err3 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil || err3 != nil {
			return 0, fmt.Errorf("%s: bad line %q", file, line)
		}
		if inside == 0 && n > 0 {
			return int(outside), nil
		}
	}
	return 0, fmt.Errorf("%s maps no id to 0: the machine has no root", file)
}
