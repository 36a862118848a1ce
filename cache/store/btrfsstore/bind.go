package btrfsstore

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
)

// Mount bind-mounts the snapshot's subvolume at dir, nosuid and nodev.
func (s *Store) Mount(ctx context.Context, name, dir string) error {
	if name == s.defName {
		return fmt.Errorf("mount %s: the agent mounts snapshots of the default subvolume, never the subvolume itself: %w", name, store.ErrDefault)
	}
	if err := store.CheckName(name); err != nil {
		return fmt.Errorf("mount cache snapshot: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	src := s.path(name)
	if err := isSubvolume(src); err != nil {
		if errors.Is(err, unix.ENOENT) {
			err = fmt.Errorf("%w: %w", store.ErrNotFound, err)
		}
		return fmt.Errorf("mount cache snapshot %s: %w", name, err)
	}
	if err := bindNoPrivilege(src, dir); err != nil {
		return fmt.Errorf("mount cache snapshot %s at %s: %w", name, dir, err)
	}
	return nil
}

// bindNoPrivilege bind-mounts src at dir, nosuid and nodev from the
// start: a setuid binary or a device node a job left in its cache is
// inert on the host, and in every machine the agent clones the mount
// into (a clone keeps the flags). mount(2) ignores MS_NOSUID and
// MS_NODEV with MS_BIND and would need a remount after it, leaving a
// moment with them off; open_tree(OPEN_TREE_CLONE) makes a detached copy
// that mount_setattr sets before move_mount attaches it.
func bindNoPrivilege(src, dir string) error {
	tree, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("open_tree: %w: the cache agent needs Linux 5.12 or later (open_tree, mount_setattr, move_mount)", err)
		}
		return fmt.Errorf("open_tree: %w", err)
	}
	defer unix.Close(tree)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return fmt.Errorf("mount_setattr nosuid,nodev: %w", err)
	}
	if err := unix.MoveMount(tree, "", unix.AT_FDCWD, dir, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// Unmount unmounts dir.
func (s *Store) Unmount(_ context.Context, dir string) error {
	return store.Unmount(dir)
}
