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

// machineSlice is where systemd puts machines: systemd-nspawn@.service has
// Slice=machine.slice and machined registers scopes there. Only units
// directly in it count as machines: anywhere else, an unprivileged user
// could create a unit of that name in a delegated subtree
// (/user.slice/…/systemd-nspawn@ci.service) and pose as a machine.
const machineSlice = "machine.slice"

// UnifiedCgroupRoot returns where the unified (cgroup v2) hierarchy is
// mounted: /sys/fs/cgroup on a pure cgroup2 host, /sys/fs/cgroup/unified on
// a hybrid one.
func UnifiedCgroupRoot() (string, error) {
	for _, dir := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return dir, nil
		}
	}
	return "", errors.New("no unified (cgroup2) hierarchy is mounted at /sys/fs/cgroup or /sys/fs/cgroup/unified: the cache agent needs it to tell machines apart")
}

// unifiedCgroup returns pid's path in the unified hierarchy (the `0::` line
// of /proc/PID/cgroup).
func unifiedCgroup(procRoot string, pid int) (string, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("pid %d has no unified cgroup (no 0:: line in /proc/%d/cgroup)", pid, pid)
}

// machineOfCgroup finds the machine a unified-hierarchy cgroup path belongs
// to: the unit directly in machine.slice, systemd-nspawn@NAME.service or
// machine-NAME.scope, with systemd's unit-name escapes undone. unit is the
// unit's own cgroup (/machine.slice/systemd-nspawn@NAME.service). A unit
// nested deeper (a machine started by a job inside a machine) never counts:
// the outermost decides.
func machineOfCgroup(cg string) (name, unit string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(cg, "/"), "/")
	if len(parts) < 2 || parts[0] != machineSlice {
		return "", "", false
	}
	var esc string
	if s, found := strings.CutPrefix(parts[1], "systemd-nspawn@"); found {
		esc, found = strings.CutSuffix(s, ".service")
		if !found {
			return "", "", false
		}
	} else if s, found := strings.CutPrefix(parts[1], "machine-"); found {
		esc, found = strings.CutSuffix(s, ".scope")
		if !found {
			return "", "", false
		}
	} else {
		return "", "", false
	}
	name, err := unescapeUnitName(esc)
	if err != nil || !validMachineName(name) {
		return "", "", false
	}
	return name, "/" + machineSlice + "/" + parts[1], true
}

// unescapeUnitName undoes systemd's unit-name escaping: \xNN is the byte
// NN. Other characters stand for themselves ("-" is kept: machine names are
// taken from %i, the instance as written).
func unescapeUnitName(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+3 >= len(s) || s[i+1] != 'x' {
			return "", fmt.Errorf("bad escape in unit name %q", s)
		}
		v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape in unit name %q", s)
		}
		b.WriteByte(byte(v))
		i += 3
	}
	return b.String(), nil
}

// escapeUnitName is systemd's unit_name_escape: bytes outside
// [A-Za-z0-9:_.] become \xNN (and so does a leading ".").
func escapeUnitName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '_' || c == '.'
		if !ok || (i == 0 && c == '.') {
			fmt.Fprintf(&b, `\x%02x`, c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// validMachineName accepts what systemd accepts as a machine name in
// practice (a hostname): it is used in messages, tags and paths, so "/",
// NUL, "." and ".." never pass.
func validMachineName(s string) bool {
	if s == "" || len(s) > 64 || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/\x00\n")
}

// cgroupProcs calls fn with every pid in the cgroup dir and all cgroups
// below it. Cgroups that vanish during the walk are skipped.
func cgroupProcs(dir string, fn func(pid int) error) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != dir {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("%s/cgroup.procs: bad pid %q", p, f)
			}
			if err := fn(pid); err != nil {
				return err
			}
		}
		return nil
	})
}
