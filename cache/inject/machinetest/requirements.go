package machinetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/rigplan/rigplan/cache/inject"
)

// Missing returns what this host lacks to start a machine, or nil.
func Missing() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (systemd-nspawn, cgroups and setns need it)")
	}
	if _, err := exec.LookPath("systemd-nspawn"); err != nil {
		missing = append(missing, "systemd-nspawn (Debian package systemd-container)")
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		missing = append(missing, "nsenter (util-linux)")
	}
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err != nil {
		missing = append(missing, "user namespaces (no /proc/sys/user/max_user_namespaces)")
	} else if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || n == 0 {
		missing = append(missing, "user namespaces (user.max_user_namespaces is 0)")
	}
	if _, err := inject.UnifiedCgroupRoot(); err != nil {
		missing = append(missing, "a unified cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified")
	}
	if len(missing) == 0 {
		return nil
	}
	return errors.New("needs " + strings.Join(missing, ", "))
}

// Require skips t, naming what is missing, unless this host can start
// machines. Start calls it; call it first in tests that prepare host state
// (loop devices, mounts) before starting a machine.
func Require(t interface {
	Helper()
	Skipf(format string, args ...any)
}) {
	t.Helper()
	if err := Missing(); err != nil {
		t.Skipf("real nspawn machine: %v", err)
	}
}

// procsFile is cgroup.procs of the unified-hierarchy cgroup cg.
func procsFile(root, cg string) string {
	return fmt.Sprintf("%s%s/cgroup.procs", root, cg)
}
