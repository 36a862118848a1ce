package btrfsstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/mountinfo"
)

// Delete removes a snapshot's subvolume, with every subvolume its job
// made inside it, then its sidecar (a crash between leaves a sidecar
// alone, which List reports Pending). It refuses while any of those
// subvolumes is mounted in any mount namespace: btrfs would delete it
// and leave the mount empty. It needs no free space.
func (s *Store) Delete(ctx context.Context, name string) error {
	if name == s.defName {
		return fmt.Errorf("delete %s: %w", name, store.ErrDefault)
	}
	if err := store.CheckName(name); err != nil {
		return fmt.Errorf("delete cache snapshot: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	path := s.path(name)
	metaPath := filepath.Join(s.meta(), name)
	sub, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Lstat(metaPath); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete cache snapshot %s: %w", name, store.ErrNotFound)
		}
	case err != nil:
		return fmt.Errorf("delete cache snapshot %s: %w", name, err)
	default:
		err := s.deleteSubvolume(sub, name)
		sub.Close()
		if err != nil {
			return fmt.Errorf("delete cache snapshot %s: %w", name, err)
		}
	}
	if err := os.Remove(metaPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete cache snapshot %s: remove its metadata: %w", name, err)
	}
	// Temporary sidecars a crash left behind.
	if tmps, err := filepath.Glob(filepath.Join(s.meta(), "."+name+".*")); err == nil {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	return nil
}

// deleteSubvolume deletes the snapshot's subvolume, open as sub, and
// every subvolume the job made inside it (see nested.go), refusing while
// any of them is mounted anywhere.
func (s *Store) deleteSubvolume(sub *os.File, name string) error {
	if err := isSubvolume(s.path(name)); err != nil {
		return err
	}
	id, err := subvolumeID(sub)
	if err != nil {
		return err
	}
	parent, err := os.OpenFile(s.dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer parent.Close()
	tree, err := nestedSubvolumes(parent, id)
	if err != nil {
		return err
	}
	ids := map[uint64]*subvol{}
	tree.each(func(v *subvol) { ids[v.id] = v })
	mid, where, err := s.mountOf(ids)
	if err != nil {
		return err
	}
	switch {
	case where != "" && mid == id:
		return fmt.Errorf("it is in use (%s): unmount it first", where)
	case where != "":
		return fmt.Errorf("it is in use: the subvolume %s inside it is %s: unmount that first", ids[mid].path(), where)
	}
	writable, err := destroyNested(parent, sub, tree, s.remember)
	if err != nil {
		return fmt.Errorf("delete the subvolumes made inside it: %w", err)
	}
	if err := destroy(parent, name); err != nil {
		if writable {
			setReadOnly(sub)
		}
		return fmt.Errorf("btrfs subvolume delete %s: %w", s.path(name), err)
	}
	s.remember(id)
	return nil
}

// mounted describes a mount of the subvolume open as sub, in any mount
// namespace, or returns "".
func (s *Store) mounted(sub *os.File) (string, error) {
	id, err := subvolumeID(sub)
	if err != nil {
		return "", err
	}
	_, where, err := s.mountOf(map[uint64]*subvol{id: nil})
	return where, err
}

// mountOf finds a mount of any of the subvolumes ids, in any mount
// namespace, and describes it; "" when there is none.
func (s *Store) mountOf(ids map[uint64]*subvol) (uint64, string, error) {
	lines, err := mountinfo.Read(filepath.Join(s.proc, "self", "mountinfo"))
	if err != nil {
		return 0, "", err
	}
	dev, err := filesystemDev(lines, s.dir)
	if err != nil {
		return 0, "", err
	}
	set := make(map[uint64]bool, len(ids))
	for id := range ids {
		set[id] = true
	}
	id, where, err := mountedAnywhere(s.proc, dev, set)
	if err != nil {
		return 0, "", fmt.Errorf("look for mounts of it: %w", err)
	}
	return id, where, nil
}

var _ store.BusyChecker = (*Store)(nil)

// Busy reports whether the snapshot's subvolume is mounted in any mount
// namespace on the host (by subvolume id, which survives the renames and
// deletions that change a mount's root path). btrfs keeps no open count
// the store could read, so a filesystem lazily unmounted but still held
// by a process is not seen.
func (s *Store) Busy(ctx context.Context, name string) (bool, string, error) {
	if err := store.CheckName(name); err != nil {
		return false, "", fmt.Errorf("check whether cache snapshot is in use: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return false, "", err
	}
	sub, err := os.OpenFile(s.path(name), os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, "", fmt.Errorf("check whether cache snapshot %s is in use: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return false, "", fmt.Errorf("check whether cache snapshot %s is in use: %w", name, err)
	}
	defer sub.Close()
	where, err := s.mounted(sub)
	if err != nil {
		return false, "", fmt.Errorf("check whether cache snapshot %s is in use: %w", name, err)
	}
	return where != "", where, nil
}
