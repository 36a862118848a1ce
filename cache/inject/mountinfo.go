package inject

import (
	"context"
	"fmt"

	"github.com/rigplan/rigplan/internal/mountinfo"
)

// MountEntry is one line of /proc/PID/mountinfo.
type MountEntry = mountinfo.Entry

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
	entries, err := mountinfo.Read(procPath("/proc", m.Leader, "mountinfo"))
	if err != nil {
		return nil, unlessGone(m, fmt.Errorf("machine %q: read its mounts: %w", m.Name, err))
	}
	// What was read is the machine's only if the leader is still the same
	// process.
	if err := checkLeader(m); err != nil {
		return nil, err
	}
	return entries, nil
}
