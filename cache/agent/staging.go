package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/internal/mountinfo"
)

// The agent mounts a snapshot on the host only for a moment: to clone it
// into a machine, to copy it for a save, and to learn how its mounts look
// after a restart. Those staging mounts live in StateDir/staging/NAME,
// root-only and outside the socket's directory (which machines see). A
// crash leaves them behind; the start-up pass unmounts them.

// stagingDir is where snapshot name is mounted on the host.
func (a *Agent) stagingDir(name string) string { return filepath.Join(a.staging, name) }

// prepareStateDir creates the state and staging directories, root-only.
func (a *Agent) prepareStateDir() error {
	for _, d := range []string{a.cfg.StateDir, a.staging} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("cache agent: create its state directory: %w", err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("cache agent: %w", err)
		}
	}
	return nil
}

// stage mounts snapshot name on its staging directory and reads how the
// mount looks in the agent's mount table.
func (a *Agent) stage(ctx context.Context, name string) (string, mountID, error) {
	dir := a.stagingDir(name)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", mountID{}, fmt.Errorf("create staging directory: %w", err)
	}
	if err := a.store.Mount(ctx, name, dir); err != nil {
		os.Remove(dir)
		return "", mountID{}, err
	}
	id, err := idOfMount(dir)
	if err != nil {
		a.unstage(ctx, name)
		return "", mountID{}, err
	}
	return dir, id, nil
}

// unstage unmounts snapshot name from its staging directory and removes
// the directory. When the store cannot unmount it (something in the agent
// still uses it, which should never be), the mount is detached lazily so
// that it cannot pile up.
func (a *Agent) unstage(ctx context.Context, name string) {
	dir := a.stagingDir(name)
	if err := a.store.Unmount(ctx, dir); err != nil {
		a.log.Error("unmount of a staging mount failed; detaching it", "snapshot", name, "dir", dir, "err", err)
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			a.log.Error("detaching a staging mount failed", "dir", dir, "err", err)
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		a.log.Error("removing a staging directory failed", "dir", dir, "err", err)
	}
}

// cleanStaging unmounts every mount under the staging directory, deepest
// first, and removes what directories are left: a crash's leftovers.
func (a *Agent) cleanStaging() error {
	entries, err := mountinfo.Read("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("cache agent: read its mount table: %w", err)
	}
	var targets []string
	for _, e := range entries {
		if strings.HasPrefix(e.Target, a.staging+"/") {
			targets = append(targets, e.Target)
		}
	}
	// Later mounts may sit on earlier ones: undo them in reverse order.
	slices.Reverse(targets)
	for _, t := range targets {
		if err := unix.Unmount(t, unix.UMOUNT_NOFOLLOW); err != nil {
			a.log.Warn("unmount of a leftover staging mount failed; detaching it", "dir", t, "err", err)
			if err := unix.Unmount(t, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("cache agent: unmount leftover staging mount %s: %w", t, err)
			}
		}
		a.log.Info("unmounted a leftover staging mount", "dir", t)
	}
	dirs, err := os.ReadDir(a.staging)
	if err != nil {
		return fmt.Errorf("cache agent: %w", err)
	}
	for _, d := range dirs {
		if err := os.Remove(filepath.Join(a.staging, d.Name())); err != nil {
			a.log.Warn("removing a leftover staging directory failed", "dir", d.Name(), "err", err)
		}
	}
	return nil
}
