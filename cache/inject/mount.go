package inject

import (
	"context"
	"errors"
	"fmt"
	"path"

	"golang.org/x/sys/unix"
)

// Mount puts the directory hostDir (typically a snapshot's filesystem,
// mounted on the host by the store) into machine m at target, for the
// requester who, idmapped to the machine's user namespace: a file owned
// by uid 1000 on disk appears owned by uid 1000 inside the machine, a
// file the machine's uid 1000 creates is owned by uid 1000 on disk, and
// nothing is chowned. The mount is nosuid and nodev: a setuid program or
// a device node that one job left in a cache is inert for every later
// one.
//
// target must pass CheckPath for m.Allowed and is resolved inside the
// machine's root, with who's credentials, without following any symlink
// (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS), so a symlink planted
// at or above the target, say to /etc, is refused rather than followed,
// and a directory who may not search is out of reach. The target must be
// a directory who owns, on the machine's root mount (not in a directory
// bound in from the host, a filesystem mounted in the machine or another
// cache), and not a mount point; or missing, with its parent on the
// machine's root mount: then it is created as who (mode 0755 under umask
// 022), which needs write permission there. Refusals wrap ErrBadPath and
// say why, with uids as the machine sees them.
//
// Only the mount at hostDir is cloned, not mounts below it. Once Mount
// returns, the host may unmount hostDir: the machine's mount keeps the
// filesystem alive until the machine's mount namespace goes away (the
// machine powers off) or Unmount.
//
// The sequence: open_tree(OPEN_TREE_CLONE) of hostDir on the host;
// mount_setattr(MOUNT_ATTR_IDMAP with the leader's /proc/PID/ns/user,
// MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV, and propagation MS_PRIVATE so the
// clone is no peer of the host's mount); then, on a locked OS thread
// that is thrown away afterwards, unshare(CLONE_FS), setns(the leader's
// /proc/PID/ns/mnt), open "/" (now the machine's root), take who's
// groups, fsgid and fsuid and drop every capability, openat2 the target
// beneath the root (mkdirat if missing); and on a second such thread,
// with root's rights, move_mount(MOVE_MOUNT_F_EMPTY_PATH |
// MOVE_MOUNT_T_EMPTY_PATH) onto the descriptor the first one opened. It
// needs Linux 5.12+ and a filesystem that supports idmapped mounts
// (ext4, xfs and btrfs do; tmpfs since 6.3). On older kernels it fails
// with a clear error: the original setup's shared-propagation fallback
// is not implemented.
//
// If a step fails because the machine died meanwhile, the error is
// ErrNotRunning.
func Mount(ctx context.Context, m Machine, who Cred, hostDir, target string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckPath(target, m.Allowed); err != nil {
		return err
	}
	ns, err := openNamespaces(m)
	if err != nil {
		return unlessGone(m, err)
	}
	defer ns.close()
	return unlessGone(m, mount(m, ns, who, hostDir, target))
}

func mount(m Machine, ns *namespaces, who Cred, hostDir, target string) error {
	fail := func(step string, err error) error {
		return fmt.Errorf("mount %s into machine %q at %s: %s: %w", hostDir, m.Name, target, step, err)
	}
	tree, err := unix.OpenTree(unix.AT_FDCWD, hostDir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) {
			return fail("open_tree", fmt.Errorf("%w: this kernel lacks the new mount API; the cache agent needs Linux 5.12 or later (open_tree, mount_setattr with MOUNT_ATTR_IDMAP, move_mount)", err))
		}
		return fail("open_tree", err)
	}
	defer unix.Close(tree)

	// Idmapped, and never carrying privilege: whatever the filesystem
	// holds, no setuid or setgid bit and no device node works through
	// this mount. Private as well: the clone would otherwise join the
	// peer group of the host's mount (shared on systemd hosts), and
	// mounts a job makes inside its cache would appear on the host, and
	// the host's under hostDir in the machine.
	attr := unix.MountAttr{
		Attr_set:    unix.MOUNT_ATTR_IDMAP | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV,
		Userns_fd:   uint64(ns.user),
		Propagation: unix.MS_PRIVATE,
	}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		switch {
		case errors.Is(err, unix.ENOSYS):
			err = fmt.Errorf("%w: this kernel lacks mount_setattr; idmapped mounts need Linux 5.12 or later", err)
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EPERM), errors.Is(err, unix.EOPNOTSUPP):
			err = fmt.Errorf("%w: the filesystem at %s must support idmapped mounts (ext4, xfs, btrfs; tmpfs since Linux 6.3)", err, hostDir)
		}
		return fail("mount_setattr MOUNT_ATTR_IDMAP|MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV, MS_PRIVATE", err)
	}

	// Resolve (and make) the target as the requester...
	dir := -1
	err = inMountNamespace(ns.mnt, &who, func(root int) error {
		fd, err := ns.openTarget(root, m, who, target, true)
		dir = fd
		return err
	}, fail)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	// ...and mount onto what it opened with root's rights, which
	// move_mount needs, on a thread that has them (a descriptor is the
	// whole process's). The descriptor names the checked directory
	// itself: whatever the job renames meanwhile, the mount goes there.
	return inMountNamespace(ns.mnt, nil, func(int) error {
		err := unix.MoveMount(tree, "", dir, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
		if errors.Is(err, unix.ENOENT) {
			return badPath(fmt.Sprintf("mount path %s was removed inside machine %q while the cache was being mounted", target, m.Name), err)
		}
		if err != nil {
			return fail("move_mount", err)
		}
		return nil
	}, fail)
}

// Unmount detaches the mount at target inside machine m (the topmost one,
// if several are stacked there), lazily (MNT_DETACH): processes still using
// it keep the filesystem until they let go. It fails with ErrNotMounted if
// target is not a mount point. Like Mount, it resolves target inside the
// machine without following symlinks; unlike Mount, it acts with the
// agent's rights: the agent unmounts only what it mounted.
func Unmount(ctx context.Context, m Machine, target string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckPath(target, m.Allowed); err != nil {
		return err
	}
	ns, err := openNamespaces(m)
	if err != nil {
		return unlessGone(m, err)
	}
	defer ns.close()
	return unlessGone(m, unmount(m, ns, target))
}

func unmount(m Machine, ns *namespaces, target string) error {
	fail := func(step string, err error) error {
		return fmt.Errorf("unmount %s in machine %q: %s: %w", target, m.Name, step, err)
	}
	notMounted := func(err error) error {
		return &reasonError{kind: ErrNotMounted, msg: fmt.Sprintf("nothing is mounted at %s in machine %q", target, m.Name), err: err}
	}
	parent, base := path.Split(target)
	return inMountNamespace(ns.mnt, nil, func(root int) error {
		pdir, err := openDir(root, path.Clean(parent))
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return notMounted(err)
		}
		if err != nil {
			return fmt.Errorf("machine %q: %w", m.Name, ns.describeResolve(target, nil, err))
		}
		defer unix.Close(pdir)
		dir, err := openBeneath(pdir, base)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return notMounted(err)
		}
		if err != nil {
			return fmt.Errorf("machine %q: %w", m.Name, ns.describeResolve(target, nil, err))
		}
		st, err := statDir(dir)
		unix.Close(dir)
		if err != nil {
			return fail("statx", err)
		}
		if !st.mountRoot {
			return notMounted(nil)
		}
		// umount2 takes a path, not a descriptor: make the checked parent
		// this thread's working directory and name just the last
		// component, not followed if it is (now) a symlink.
		if err := unix.Fchdir(pdir); err != nil {
			return fail("fchdir", err)
		}
		if err := unix.Unmount(base, unix.UMOUNT_NOFOLLOW|unix.MNT_DETACH); err != nil {
			return fail("umount2", err)
		}
		return nil
	}, fail)
}
