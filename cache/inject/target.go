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
// accept target in machine m for the requester who: CheckPath, then
// target resolved beneath the machine's root the way Mount resolves it
// (with who's credentials, no symlink followed, not even the last
// component), which must be a directory who owns on the machine's root
// mount that is not a mount point, or missing, with a parent on the
// machine's root mount where who may create it (faccessat2 W_OK|X_OK
// with AT_EACCESS, as who). The error wraps ErrBadPath (or
// ErrNotRunning) with a reason for the client.
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
	ns, err := openNamespaces(m)
	if err != nil {
		return unlessGone(m, err)
	}
	defer ns.close()
	fail := func(step string, err error) error {
		return fmt.Errorf("check mount path %s in machine %q: %s: %w", target, m.Name, step, err)
	}
	err = inMountNamespace(ns.mnt, &who, func(root int) error {
		fd, err := ns.openTarget(root, m, who, target, false)
		if fd >= 0 {
			unix.Close(fd)
		}
		return err
	}, fail)
	return unlessGone(m, err)
}

// Why a target is refused, for the client.
const (
	ownedOnly   = "a cache is mounted only onto a directory the requester owns or can create"
	ownTreeOnly = "a cache is mounted only into the machine's own tree, not into a directory bound in from the host, a filesystem mounted in the machine or another cache"
)

// openTarget opens the directory target (absolute, checked) beneath the
// machine's root for Mount, on a thread of the machine's mount namespace
// that acts as who. With create, a missing last component is made (as
// who); without, it is only checked that who could make it, and -1 is
// returned for it.
func (ns *namespaces) openTarget(root int, m Machine, who Cred, target string, create bool) (int, error) {
	inMachine := func(err error) error { return fmt.Errorf("machine %q: %w", m.Name, err) }
	rootSt, err := statDir(root)
	if err != nil {
		return -1, fmt.Errorf("statx the machine's root: %w", err)
	}
	fd, err := openDir(root, target)
	if err == nil {
		if err := ns.checkDir(fd, who, target, rootSt.mnt); err != nil {
			unix.Close(fd)
			return -1, inMachine(err)
		}
		return fd, nil
	}
	if !errors.Is(err, unix.ENOENT) {
		return -1, inMachine(ns.describeResolve(target, &who, err))
	}

	parent, base := path.Split(target)
	parent = path.Clean(parent)
	pfd, err := openDir(root, parent)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return -1, inMachine(badPath(fmt.Sprintf("mount path %s: its parent %s does not exist", target, parent), err))
		}
		return -1, inMachine(ns.describeResolve(target, &who, err))
	}
	defer unix.Close(pfd)
	pst, err := statDir(pfd)
	if err != nil {
		return -1, fmt.Errorf("statx %s: %w", parent, err)
	}
	if pst.mnt != rootSt.mnt {
		return -1, inMachine(badPath(fmt.Sprintf("mount path %s would be made in %s, which is on another mount than the machine's root filesystem: %s", target, parent, ownTreeOnly), nil))
	}
	if !create {
		// What mkdirat needs: write and search permission in the parent,
		// for who. AT_EACCESS makes the kernel check this thread's
		// filesystem ids, groups and (no) capabilities; without it, it
		// would check the agent's real uid: root.
		if err := unix.Faccessat2(pfd, "", unix.W_OK|unix.X_OK, unix.AT_EACCESS|unix.AT_EMPTY_PATH); err != nil {
			return -1, inMachine(ns.describeCreate(target, parent, who, err))
		}
		return -1, nil
	}
	// EEXIST: the machine made it meanwhile; check what is there.
	if err := unix.Mkdirat(pfd, base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, inMachine(ns.describeCreate(target, parent, who, err))
	}
	fd, err = openBeneath(pfd, base)
	if err != nil {
		return -1, inMachine(ns.describeResolve(target, &who, err))
	}
	if err := ns.checkDir(fd, who, target, rootSt.mnt); err != nil {
		unix.Close(fd)
		return -1, inMachine(err)
	}
	return fd, nil
}

// checkDir checks that the directory fd (at target) may be mounted onto
// for who: not a mount point, on the machine's root mount (rootMnt), and
// who's. A directory who just made is who's.
func (ns *namespaces) checkDir(fd int, who Cred, target string, rootMnt uint64) error {
	st, err := statDir(fd)
	if err != nil {
		return fmt.Errorf("statx %s: %w", target, err)
	}
	switch {
	case st.mountRoot:
		return badPath(fmt.Sprintf("mount path %s is already a mount point", target), nil)
	case st.mnt != rootMnt:
		return badPath(fmt.Sprintf("mount path %s is on another mount than the machine's root filesystem: %s", target, ownTreeOnly), nil)
	case st.uid != who.UID:
		return badPath(fmt.Sprintf("mount path %s belongs to %s, not to the requesting %s: %s", target, ns.uidInMachine(st.uid), ns.uidShort(who.UID), ownedOnly), nil)
	}
	return nil
}

// uidInMachine names host uid as the machine sees it: "uid 1000 in the
// machine".
func (ns *namespaces) uidInMachine(host uint32) string {
	if in, ok := ns.uids.inside(host); ok {
		return fmt.Sprintf("uid %d in the machine", in)
	}
	return fmt.Sprintf("host uid %d, which the machine does not map", host)
}

// uidShort is uidInMachine without "in the machine", for a second uid in
// one sentence.
func (ns *namespaces) uidShort(host uint32) string {
	if in, ok := ns.uids.inside(host); ok {
		return fmt.Sprintf("uid %d", in)
	}
	return fmt.Sprintf("host uid %d", host)
}

// describeResolve turns an openat2 failure into a reason for the client
// (wrapping ErrBadPath and the system error, for the log). who is the
// requester the thread acted as, or nil for the agent itself. A failure
// that is not the client's doing stays the agent's own error.
func (ns *namespaces) describeResolve(target string, who *Cred, err error) error {
	switch {
	case errors.Is(err, unix.ELOOP):
		return badPath(fmt.Sprintf("mount path %s has a symlink at or above it inside the machine: refusing to follow it", target), err)
	case errors.Is(err, unix.ENOTDIR):
		return badPath(fmt.Sprintf("mount path %s is not a directory inside the machine (or something above it is not)", target), err)
	case errors.Is(err, unix.ENOENT):
		return badPath(fmt.Sprintf("mount path %s does not exist inside the machine", target), err)
	case errors.Is(err, unix.EXDEV):
		return badPath(fmt.Sprintf("mount path %s escapes the machine's root", target), err)
	case errors.Is(err, unix.ENAMETOOLONG):
		return badPath(fmt.Sprintf("mount path %s has a component longer than the machine's filesystem allows", target), err)
	case who != nil && (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)):
		return badPath(fmt.Sprintf("mount path %s is out of reach of %s: a directory on the way does not let it search; %s", target, ns.uidInMachine(who.UID), ownedOnly), err)
	}
	return fmt.Errorf("resolve %s inside the machine: openat2: %w", target, err)
}

// describeCreate turns a failure to create target in parent (mkdirat,
// or faccessat2 asking whether it would fail) into a reason for the
// client, like describeResolve.
func (ns *namespaces) describeCreate(target, parent string, who Cred, err error) error {
	cannot := fmt.Sprintf("mount path %s does not exist and cannot be made", target)
	switch {
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return badPath(fmt.Sprintf("mount path %s does not exist, and %s may not create it: %s does not let it write there; %s", target, ns.uidInMachine(who.UID), parent, ownedOnly), err)
	case errors.Is(err, unix.EROFS):
		return badPath(fmt.Sprintf("%s: %s is on a read-only filesystem in the machine", cannot, parent), err)
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT):
		return badPath(fmt.Sprintf("%s: the filesystem of %s has no room (or quota) left for it", cannot, parent), err)
	case errors.Is(err, unix.EOVERFLOW):
		return badPath(fmt.Sprintf("%s: %s cannot own files on the filesystem of %s", cannot, ns.uidInMachine(who.UID), parent), err)
	case errors.Is(err, unix.EMLINK):
		return badPath(fmt.Sprintf("%s: %s holds as many directories as its filesystem allows", cannot, parent), err)
	case errors.Is(err, unix.ENAMETOOLONG):
		return badPath(fmt.Sprintf("%s: its name is longer than the filesystem allows", cannot), err)
	case errors.Is(err, unix.ENOENT):
		return badPath(fmt.Sprintf("%s: its parent %s was removed meanwhile", cannot, parent), err)
	}
	return fmt.Errorf("create %s inside the machine: %w", target, err)
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

// openDir opens the directory p (absolute, clean) beneath the machine's
// root.
func openDir(root int, p string) (int, error) {
	if p == "/" {
		return unix.Dup(root)
	}
	return openBeneath(root, strings.TrimPrefix(p, "/"))
}

// dirStat is what Mount needs to know of a directory.
type dirStat struct {
	uid       uint32 // owner, in the host's ids
	mnt       uint64 // the mount it is on
	mountRoot bool   // it is the root of that mount
}

func statDir(fd int) (dirStat, error) {
	var st unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_STATX_DONT_SYNC, unix.STATX_BASIC_STATS|unix.STATX_MNT_ID, &st); err != nil {
		return dirStat{}, err
	}
	if st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return dirStat{}, errors.New("the kernel does not report STATX_ATTR_MOUNT_ROOT (Linux 5.8+ needed)")
	}
	if st.Mask&unix.STATX_MNT_ID == 0 {
		return dirStat{}, errors.New("the kernel does not report STATX_MNT_ID (Linux 5.8+ needed)")
	}
	return dirStat{uid: st.Uid, mnt: st.Mnt_id, mountRoot: st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0}, nil
}
