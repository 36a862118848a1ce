package inject

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// CheckTarget tells, without changing anything, whether Mount would
// accept target in machine m: CheckPath, then target resolved beneath
// the machine's root the way Mount resolves it (no symlink followed, not
// even the last component), which must be a directory that is not a
// mount point, or missing with an existing parent directory (Mount
// creates it). The error wraps ErrBadPath (or ErrNotRunning) with a
// reason for the client.
//
// The agent calls it before it makes a snapshot, so that a request for a
// bad target costs no snapshot. It is a check, not a guarantee: the job
// can change its tree before Mount, which checks everything again.
func CheckTarget(ctx context.Context, m Machine, who Cred, target string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckPath(target, m.Allowed); err != nil {
		return err
	}
	fail := func(step string, err error) error {
		return fmt.Errorf("check mount path %s in machine %q: %s: %w", target, m.Name, step, err)
	}
	if err := checkLeader(m); err != nil {
		return err
	}
	mnt, err := unix.Open(procPath("/proc", m.Leader, "ns/mnt"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("machine %q: open its mount namespace: %w", m.Name, err)
	}
	defer unix.Close(mnt)
	// The leader might have exited and its pid been reused since the
	// check above: check again now that the namespace is held.
	if err := checkLeader(m); err != nil {
		return err
	}
	return inMountNamespace(mnt, func(root int) error {
		rel := strings.TrimPrefix(target, "/")
		fd, err := openBeneath(root, rel)
		if err == nil {
			defer unix.Close(fd)
			switch mountRoot, err := isMountRoot(fd); {
			case err != nil:
				return fail("statx", err)
			case mountRoot:
				return badPath(fmt.Sprintf("mount path %s is already a mount point in machine %q", target, m.Name), nil)
			}
			return nil
		}
		if !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("machine %q: %w", m.Name, describeResolve(target, err))
		}
		// Missing: Mount creates it if its parent is a directory.
		parent := path.Dir(target)
		if parent == "/" {
			return nil
		}
		pfd, err := openBeneath(root, strings.TrimPrefix(parent, "/"))
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("machine %q: %w", m.Name, badPath(fmt.Sprintf("mount path %s: its parent %s does not exist", target, parent), err))
			}
			return fmt.Errorf("machine %q: %w", m.Name, describeResolve(target, err))
		}
		unix.Close(pfd)
		return nil
	}, fail)
}
