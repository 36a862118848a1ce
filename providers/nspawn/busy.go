package nspawn

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// jobProcess is the GitHub runner's process that exists exactly while a
// job runs: Runner.Listener waits for jobs, and starts one Runner.Worker
// per job. (The kernel truncates comm to 15 bytes: "Runner.Worker" fits.)
const jobProcess = "Runner.Worker"

// busyPID returns the pid of a job process in the machine's cgroup, or 0.
// The unit runs in machine.slice (systemd-nspawn@.service's Slice=); on
// a unified hierarchy its cgroup is /sys/fs/cgroup/machine.slice/UNIT, on
// a hybrid one under /sys/fs/cgroup/unified or /sys/fs/cgroup/systemd.
// A machine whose cgroup cannot be read is not busy: it is not running.
func (p *Provider) busyPID(unit string) (int, error) {
	for _, top := range []string{"", "unified", "systemd"} {
		dir := p.onHost(filepath.Join(cgroupMount, top, "machine.slice", unit))
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		pid := 0
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // a cgroup went away while walking
				}
				return err
			}
			if pid != 0 || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			for _, f := range strings.Fields(string(b)) {
				n, err := strconv.Atoi(f)
				if err != nil {
					continue
				}
				comm, err := os.ReadFile(p.onHost(filepath.Join("/proc", f, "comm")))
				if err == nil && string(bytes.TrimSpace(comm)) == jobProcess {
					pid = n
					return fs.SkipAll
				}
			}
			return nil
		})
		return pid, err
	}
	return 0, nil
}
