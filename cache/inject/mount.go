package inject

import (
	"context"
	"errors"
	"fmt"
	"path"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount puts the directory hostDir (typically a snapshot's filesystem,
// mounted on the host by the store) into machine m at target, idmapped to
// the machine's user namespace: a file owned by uid 1000 on disk appears
// owned by uid 1000 inside the machine, a file the machine's uid 1000
// creates is owned by uid 1000 on disk, and nothing is chowned. The
// mount is nosuid and nodev: a setuid program or a device node that one
// job left in a cache is inert for every later one.
//
// target must pass CheckPath for m.Allowed and is resolved inside the
// machine's root without following any symlink (openat2 RESOLVE_IN_ROOT |
// RESOLVE_NO_SYMLINKS), so a symlink planted at or above the target, say
// to /etc, is refused rather than followed. A missing last component is
// created (mode 0755, owned by the machine's root) when its parent exists;
// a target that is already a mount point is refused.
//
// Only the mount at hostDir is cloned, not mounts below it. Once Mount
// returns, the host may unmount hostDir: the machine's mount keeps the
// filesystem alive until the machine's mount namespace goes away (the
// machine powers off) or Unmount.
//
// The sequence: open_tree(OPEN_TREE_CLONE) of hostDir on the host;
// mount_setattr(MOUNT_ATTR_IDMAP with the leader's /proc/PID/ns/user,
// MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV, and propagation MS_PRIVATE so the
// clone is no peer of the host's mount);
// then, on a locked OS thread that is thrown away afterwards,
// unshare(CLONE_FS), setns(the leader's /proc/PID/ns/mnt), open "/" (now
// the machine's root), openat2 the target beneath it, and
// move_mount(MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH). It needs
// Linux 5.12+ and a filesystem that supports idmapped mounts (ext4, xfs
// and btrfs do; tmpfs since 6.3). On older kernels it fails with a clear
// error: the original setup's shared-propagation fallback is not
// implemented.
func Mount(ctx context.Context, m Machine, who Cred, hostDir, target string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckPath(target, m.Allowed); err != nil {
		return err
	}
	fail := func(step string, err error) error {
		return fmt.Errorf("mount %s into machine %q at %s: %s: %w", hostDir, m.Name, target, step, err)
	}
	ns, err := openNamespaces(m)
	if err != nil {
		return err
	}
	defer ns.close()

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

	return inMountNamespace(ns.mnt, func(root int) error {
		dir, err := resolveTarget(root, target, ns.rootUID, ns.rootGID, true)
		if err != nil {
			return fmt.Errorf("machine %q: %w", m.Name, err)
		}
		defer unix.Close(dir)
		if mountRoot, err := isMountRoot(dir); err != nil {
			return fail("statx", err)
		} else if mountRoot {
			return badPath(fmt.Sprintf("mount path %s is already a mount point in machine %q", target, m.Name), nil)
		}
		if err := unix.MoveMount(tree, "", dir, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
			return fail("move_mount", err)
		}
		return nil
	}, fail)
}

// Unmount detaches the mount at target inside machine m (the topmost one,
// if several are stacked there), lazily (MNT_DETACH): processes still using
// it keep the filesystem until they let go. It fails with ErrNotMounted if
// target is not a mount point. Like Mount, it resolves target inside the
// machine without following symlinks.
func Unmount(ctx context.Context, m Machine, target string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckPath(target, m.Allowed); err != nil {
		return err
	}
	fail := func(step string, err error) error {
		return fmt.Errorf("unmount %s in machine %q: %s: %w", target, m.Name, step, err)
	}
	ns, err := openNamespaces(m)
	if err != nil {
		return err
	}
	defer ns.close()
	parent, base := path.Split(target)
	return inMountNamespace(ns.mnt, func(root int) error {
		pdir, err := resolveTarget(root, path.Clean(parent), 0, 0, false)
		if errors.Is(err, unix.ENOENT) {
			return &reasonError{kind: ErrNotMounted, msg: fmt.Sprintf("nothing is mounted at %s in machine %q", target, m.Name), err: err}
		}
		if err != nil {
			return fmt.Errorf("machine %q: %w", m.Name, err)
		}
		defer unix.Close(pdir)
		dir, err := openBeneath(pdir, base)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
				return &reasonError{kind: ErrNotMounted, msg: fmt.Sprintf("nothing is mounted at %s in machine %q", target, m.Name), err: err}
			}
			return fail("openat2", describeResolve(target, err))
		}
		mountRoot, err := isMountRoot(dir)
		unix.Close(dir)
		if err != nil {
			return fail("statx", err)
		}
		if !mountRoot {
			return &reasonError{kind: ErrNotMounted, msg: fmt.Sprintf("nothing is mounted at %s in machine %q", target, m.Name)}
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

// namespaces holds the leader's user and mount namespaces, opened while
// the leader was checked to be the machine's, and who is root inside.
type namespaces struct {
	user, mnt        int
	rootUID, rootGID int
}

func openNamespaces(m Machine) (*namespaces, error) {
	if err := checkLeader(m); err != nil {
		return nil, err
	}
	ns := &namespaces{user: -1, mnt: -1}
	var err error
	if ns.user, err = unix.Open(procPath("/proc", m.Leader, "ns/user"), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return nil, fmt.Errorf("machine %q: open its user namespace: %w", m.Name, err)
	}
	if ns.mnt, err = unix.Open(procPath("/proc", m.Leader, "ns/mnt"), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		ns.close()
		return nil, fmt.Errorf("machine %q: open its mount namespace: %w", m.Name, err)
	}
	if ns.rootUID, ns.rootGID, err = rootIDs("/proc", m.Leader); err != nil {
		ns.close()
		return nil, fmt.Errorf("machine %q: %w", m.Name, err)
	}
	// The leader might have exited and its pid been reused since the check
	// above: check again now that the namespaces are held.
	if err := checkLeader(m); err != nil {
		ns.close()
		return nil, err
	}
	return ns, nil
}

func (ns *namespaces) close() {
	for _, fd := range []int{ns.user, ns.mnt} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// inMountNamespace runs fn on a throw-away OS thread that has joined the
// mount namespace mntns, with a descriptor for that namespace's root.
func inMountNamespace(mntns int, fn func(root int) error, fail func(step string, err error) error) error {
	return onThrowawayThread(func() error {
		// setns(CLONE_NEWNS) refuses a thread that shares its filesystem
		// information (root, cwd, umask) with others, as every Go thread
		// does.
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return fail("unshare CLONE_FS", err)
		}
		unix.Umask(0o022)
		if err := unix.Setns(mntns, unix.CLONE_NEWNS); err != nil {
			return fail("setns to the machine's mount namespace", err)
		}
		root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail("open the machine's root", err)
		}
		defer unix.Close(root)
		return fn(root)
	})
}

// onThrowawayThread runs fn on a new goroutine locked to an OS thread that
// dies when fn returns (the goroutine exits still locked), so whatever fn
// changes about its thread (namespaces, root, working directory) never
// reaches another goroutine.
//
// That thread must not be the main thread: Go never lets the main thread
// die (it parks it instead), and /proc/self names the main thread, so a
// namespace changed there would change what /proc/self/mountinfo shows the
// whole process. A goroutine that lands on the main thread keeps it locked
// (so nothing else can get it), runs fn on a nested goroutine, which must
// then get another thread, and gives the main thread back untouched.
func onThrowawayThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			errc <- onThrowawayThread(fn)
			runtime.UnlockOSThread()
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// resolveFlags resolve a path inside the machine: ".." cannot climb out
// of its root and no symlink, not even the last component, is followed.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// openBeneath opens directory name relative to dir with resolveFlags,
// retrying the EAGAIN openat2 returns when a rename raced with it.
func openBeneath(dir int, name string) (int, error) {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveFlags}
	for range 16 {
		fd, err := unix.Openat2(dir, name, &how)
		if !errors.Is(err, unix.EAGAIN) {
			return fd, err
		}
	}
	return -1, unix.EAGAIN
}

// resolveTarget opens the directory target (absolute, checked) beneath the
// machine's root. With create, a missing last component is made, owned by
// uid:gid (the machine's root).
func resolveTarget(root int, target string, uid, gid int, create bool) (int, error) {
	if target == "/" {
		return unix.Dup(root)
	}
	rel := strings.TrimPrefix(target, "/")
	fd, err := openBeneath(root, rel)
	if err == nil {
		return fd, nil
	}
	if !create || !errors.Is(err, unix.ENOENT) {
		return -1, describeResolve(target, err)
	}
	parent, base := path.Split(rel)
	pdir := root
	if parent != "" {
		p, err := openBeneath(root, strings.TrimSuffix(parent, "/"))
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return -1, badPath(fmt.Sprintf("mount path %s: its parent %s does not exist", target, path.Dir(target)), err)
			}
			return -1, describeResolve(target, err)
		}
		defer unix.Close(p)
		pdir = p
	}
	made := true
	if err := unix.Mkdirat(pdir, base, 0o755); err != nil {
		if !errors.Is(err, unix.EEXIST) {
			return -1, badPath(fmt.Sprintf("mount path %s does not exist and cannot be created: %v", target, err), err)
		}
		made = false // lost a race with the machine: fine, check what is there
	}
	fd, err = openBeneath(pdir, base)
	if err != nil {
		return -1, describeResolve(target, err)
	}
	if made {
		if err := unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("mount path %s: give the new directory to the machine's root: %w", target, err)
		}
	}
	return fd, nil
}

// describeResolve turns an openat2 failure into a reason for the client.
func describeResolve(target string, err error) error {
	switch {
	case errors.Is(err, unix.ELOOP):
		return badPath(fmt.Sprintf("mount path %s has a symlink at or above it inside the machine: refusing to follow it", target), err)
	case errors.Is(err, unix.ENOTDIR):
		return badPath(fmt.Sprintf("mount path %s is not a directory inside the machine (or something above it is not)", target), err)
	case errors.Is(err, unix.ENOENT):
		return badPath(fmt.Sprintf("mount path %s does not exist inside the machine", target), err)
	case errors.Is(err, unix.EXDEV):
		return badPath(fmt.Sprintf("mount path %s escapes the machine's root", target), err)
	}
	return fmt.Errorf("resolve %s inside the machine: openat2: %w", target, err)
}

// isMountRoot reports whether fd is the root of a mount.
func isMountRoot(fd int) (bool, error) {
	var st unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_STATX_DONT_SYNC, unix.STATX_BASIC_STATS, &st); err != nil {
		return false, err
	}
	if st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return false, errors.New("the kernel does not report STATX_ATTR_MOUNT_ROOT (Linux 5.8+ needed)")
	}
	return st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
}
