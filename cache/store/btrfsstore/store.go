package btrfsstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/mountinfo"
)

// Config says where the store keeps its snapshots.
type Config struct {
	// Dir is a directory on btrfs that holds one subvolume per snapshot
	// and the metadata directory .rigplan. It must exist, owned by root,
	// and no other user may enter it (mode 0700, or 0750 with group
	// root): New refuses it otherwise.
	Dir string
	// Default is the path of the default subvolume, on the same btrfs
	// filesystem as Dir (inside Dir or not). List reports it under its
	// base name, which no snapshot may take.
	Default string
	// Proc is where procfs is mounted; "" means /proc. Delete reads the
	// mount namespaces of every process there.
	Proc string
}

// Store keeps cache snapshots as btrfs subvolume snapshots. See the
// package doc.
type Store struct {
	dir     string // absolute, symlinks resolved
	defPath string
	defName string
	proc    string
}

var _ store.Store = (*Store)(nil)

// New returns a store over cfg's directory. It checks that Dir and the
// default subvolume exist and are on one btrfs filesystem, and creates
// the metadata directory.
func New(cfg Config) (*Store, error) {
	if cfg.Dir == "" || cfg.Default == "" {
		return nil, errors.New("btrfs cache store: both the snapshot directory and the default subvolume must be set")
	}
	dir, err := filepath.EvalSymlinks(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("btrfs cache store: snapshot directory: %w", err)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("btrfs cache store: snapshot directory: %w", err)
	}
	def, err := filepath.Abs(cfg.Default)
	if err != nil {
		return nil, fmt.Errorf("btrfs cache store: default subvolume: %w", err)
	}
	var sd unix.Statfs_t
	if err := unix.Statfs(dir, &sd); err != nil {
		return nil, fmt.Errorf("btrfs cache store: snapshot directory %s: %w", dir, err)
	}
	if sd.Type != unix.BTRFS_SUPER_MAGIC {
		return nil, fmt.Errorf("btrfs cache store: snapshot directory %s is not on btrfs (filesystem magic %#x): put it on a btrfs filesystem, or use the lvm store", dir, sd.Type)
	}
	var sdef unix.Statfs_t
	if err := unix.Statfs(def, &sdef); err != nil {
		return nil, fmt.Errorf("btrfs cache store: default subvolume %s: %w", def, err)
	}
	if sdef.Type != unix.BTRFS_SUPER_MAGIC {
		return nil, fmt.Errorf("btrfs cache store: default subvolume %s is not on btrfs (filesystem magic %#x): make it a subvolume beside the snapshot directory", def, sdef.Type)
	}
	fsDir, err := filesystemID(dir)
	if err != nil {
		return nil, fmt.Errorf("btrfs cache store: %w", err)
	}
	fsDef, err := filesystemID(def)
	if err != nil {
		return nil, fmt.Errorf("btrfs cache store: default subvolume: %w", err)
	}
	if fsDef != fsDir {
		return nil, fmt.Errorf("btrfs cache store: default subvolume %s is not on the filesystem of %s: snapshots cannot cross filesystems; move one of them", def, dir)
	}
	if err := isSubvolume(def); err != nil {
		return nil, fmt.Errorf("btrfs cache store: default %s: %w (make it with btrfs subvolume create)", def, err)
	}
	name := filepath.Base(def)
	if err := store.CheckName(name); err != nil {
		return nil, fmt.Errorf("btrfs cache store: default subvolume %s: its base name is its name in the cache: %w", def, err)
	}
	if err := checkPrivate(dir); err != nil {
		return nil, fmt.Errorf("btrfs cache store: %w", err)
	}
	if err := os.Mkdir(filepath.Join(dir, metaDir), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("btrfs cache store: %w", err)
	}
	proc := cfg.Proc
	if proc == "" {
		proc = "/proc"
	}
	return &Store{dir: dir, defPath: def, defName: name, proc: proc}, nil
}

// checkPrivate refuses a snapshot directory that a host user other than
// root can enter: the snapshots below it hold whatever the jobs wrote,
// setuid-root binaries among them (root in a machine writes as uid 0 on
// disk), and one reached through the directory runs as root on the host.
// Only root, and root's group, may traverse it; an access ACL could
// grant that to others behind a group bit, so a directory with both is
// refused too.
func checkPrivate(dir string) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("snapshot directory %s: %w", dir, err)
	}
	mode := st.Mode & 0o7777
	what := fmt.Sprintf("snapshot directory %s (mode %04o, owner uid %d, group %d)", dir, mode, st.Uid, st.Gid)
	const why = "the snapshots in it hold what the jobs wrote, setuid-root binaries among them, which a host user who can reach them runs as root"
	fix := "chmod 0700 " + dir
	var whom string
	switch {
	case st.Uid != 0:
		whom = fmt.Sprintf("is owned by uid %d, not root", st.Uid)
		fix = fmt.Sprintf("chown root:root %s && chmod 0700 %s", dir, dir)
	case mode&0o001 != 0:
		whom = "lets every user enter it"
	case mode&0o010 != 0 && st.Gid != 0:
		whom = fmt.Sprintf("lets group %d enter it", st.Gid)
	case mode&0o010 != 0 && hasAccessACL(dir):
		whom = "has an access ACL that may let other users enter it"
		fix = fmt.Sprintf("setfacl -b %s && chmod 0700 %s", dir, dir)
	default:
		return nil
	}
	return fmt.Errorf("%s %s: %s; make it root's alone: %s", what, whom, why, fix)
}

// hasAccessACL reports whether path has a POSIX access ACL beyond its
// mode bits.
func hasAccessACL(path string) bool {
	n, err := unix.Getxattr(path, "system.posix_acl_access", nil)
	return err == nil && n > 0
}

// isSubvolume checks that path is the root of a btrfs subvolume: a
// directory with inode number 256.
func isSubvolume(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Ino != firstFreeObjectID {
		return fmt.Errorf("%s is not a btrfs subvolume", path)
	}
	return nil
}

// Term returns term: the store keeps every term whole.
func (s *Store) Term(term string) string { return term }

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }
func (s *Store) meta() string            { return filepath.Join(s.dir, metaDir) }

// originPath resolves an origin name.
func (s *Store) originPath(name string) (string, error) {
	if name == s.defName {
		return s.defPath, nil
	}
	if err := store.CheckName(name); err != nil {
		return "", err
	}
	return s.path(name), nil
}

func (s *Store) checkNew(name string) error {
	if err := store.CheckName(name); err != nil {
		return err
	}
	if name == s.defName {
		return fmt.Errorf("snapshot name %q is the default subvolume's: %w", name, store.ErrDefault)
	}
	return nil
}

// List scans the directory once (one lstat per entry, to tell subvolumes
// from anything else) and the metadata directory once, and reads one
// sidecar per snapshot. A subvolume without a readable sidecar, or a
// sidecar without its subvolume, is reported Pending: a create, copy or
// delete was interrupted there.
func (s *Store) List(ctx context.Context) ([]store.Snapshot, error) {
	var dst unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, s.defPath, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &dst); err != nil {
		return nil, fmt.Errorf("list cache snapshots: default subvolume %s: %w", s.defPath, err)
	}
	out := []store.Snapshot{{Name: s.defName, State: store.Sealed, Default: true, Created: statxTime(dst.Btime)}}

	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list cache snapshots in %s: %w", s.dir, err)
	}
	metas, err := os.ReadDir(s.meta())
	if err != nil {
		return nil, fmt.Errorf("list cache snapshots: %w", err)
	}
	subvols := map[string]bool{}
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() || n == s.defName || store.CheckName(n) != nil || isSubvolume(s.path(n)) != nil {
			continue
		}
		subvols[n] = true
	}
	var snaps []store.Snapshot
	for _, e := range metas {
		n := e.Name()
		if store.CheckName(n) != nil || n == s.defName {
			continue // a temporary file, or not ours
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sn := store.Snapshot{Name: n, State: store.Pending}
		if subvols[n] {
			delete(subvols, n)
			if b, err := os.ReadFile(filepath.Join(s.meta(), n)); err == nil {
				if m, err := parseSidecar(b); err == nil {
					sn = store.Snapshot{Name: n, Annotations: m.Annotations, Created: m.Created, State: m.State, Machine: m.Machine, Origin: m.Origin}
				}
			}
		}
		snaps = append(snaps, sn)
	}
	for n := range subvols {
		snaps = append(snaps, store.Snapshot{Name: n, State: store.Pending})
	}
	present := map[string]bool{s.defName: true}
	for _, sn := range snaps {
		present[sn.Name] = true
	}
	for i := range snaps {
		if !present[snaps[i].Origin] {
			snaps[i].Origin = ""
		}
	}
	slices.SortFunc(snaps, func(a, b store.Snapshot) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return append(out, snaps...), nil
}

func statxTime(t unix.StatxTimestamp) time.Time {
	if t.Sec == 0 && t.Nsec == 0 {
		return time.Time{}
	}
	return time.Unix(t.Sec, int64(t.Nsec)).UTC()
}

// Create snapshots origin with one ioctl (no fork), then writes the
// Pending sidecar. A crash between the two leaves a subvolume without a
// sidecar, which List reports Pending.
func (s *Store) Create(ctx context.Context, origin, name, machine string, annotations []string) (store.Snapshot, error) {
	what := fmt.Sprintf("create cache snapshot %s of %s", name, origin)
	if err := s.checkNew(name); err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, err)
	}
	src, err := s.originPath(origin)
	if err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: origin: %w", what, err)
	}
	m, err := newSidecar(store.Pending, machine, origin, annotations)
	if err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := s.snapshot(ctx, src, name, false); err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := writeSidecar(s.meta(), name, m, false); err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: write its metadata (the snapshot is left Pending): %w", what, err)
	}
	return toSnapshot(name, m), nil
}

func toSnapshot(name string, m sidecar) store.Snapshot {
	return store.Snapshot{Name: name, Annotations: m.Annotations, Created: m.Created, State: m.State, Machine: m.Machine, Origin: m.Origin}
}

// snapshot makes subvolume name in the store's directory from the
// subvolume at src.
func (s *Store) snapshot(ctx context.Context, src, name string, readOnly bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	from, err := os.OpenFile(src, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", src, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	defer from.Close()
	parent, err := os.OpenFile(s.dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer parent.Close()
	switch err := snapshot(parent, from, name, readOnly); {
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%s: %w", s.path(name), store.ErrExists)
	case err != nil:
		return fmt.Errorf("btrfs snapshot %s to %s: %w", src, s.path(name), err)
	}
	return nil
}

// Copy syncs the filesystem mounted at dir (which must be the snapshot's
// mount) and makes a read-only snapshot of it, then writes the sealed
// sidecar durably. btrfs itself flushes the source's dirty data into the
// snapshot; syncfs first keeps that flush, done inside the snapshot's
// transaction, short.
func (s *Store) Copy(ctx context.Context, name, dir, newName, machine string, annotations []string) (store.Snapshot, error) {
	what := fmt.Sprintf("save cache snapshot %s as %s", name, newName)
	if name == s.defName {
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, store.ErrDefault)
	}
	if err := store.CheckName(name); err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := s.checkNew(newName); err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, err)
	}
	m, err := newSidecar(store.Sealed, machine, name, annotations)
	if err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := syncMounted(dir, s.path(name)); err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := s.snapshot(ctx, s.path(name), newName, true); err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := writeSidecar(s.meta(), newName, m, true); err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: write its metadata (the copy is left Pending): %w", what, err)
	}
	return toSnapshot(newName, m), nil
}

// syncMounted checks that dir is a mount of the subvolume at path (same
// device and inode) and syncs its filesystem.
func syncMounted(dir, path string) error {
	var want unix.Stat_t
	if err := unix.Lstat(path, &want); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%s: %w", path, store.ErrNotFound)
		}
		return err
	}
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("open its mount: %w", err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat its mount %s: %w", dir, err)
	}
	if st.Dev != want.Dev || st.Ino != want.Ino {
		return fmt.Errorf("%s is not its mount (mount it with Mount first)", dir)
	}
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}

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

// SetState rewrites the snapshot's sidecar. Sealing also makes the
// subvolume read-only, so that nothing changes a candidate origin, and
// writes the sidecar durably.
func (s *Store) SetState(ctx context.Context, name string, st store.State) error {
	what := fmt.Sprintf("set the state of cache snapshot %s to %s", name, st)
	if name == s.defName {
		return fmt.Errorf("%s: %w", what, store.ErrDefault)
	}
	if !st.Valid() {
		return fmt.Errorf("%s: unknown state", what)
	}
	if err := store.CheckName(name); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sub, err := os.OpenFile(s.path(name), os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer sub.Close()
	b, err := os.ReadFile(filepath.Join(s.meta(), name))
	if err != nil {
		return fmt.Errorf("%s: its metadata is missing (a create was interrupted; delete it): %w", what, err)
	}
	m, err := parseSidecar(b)
	if err != nil {
		return fmt.Errorf("%s: its metadata is unreadable (delete it): %w", what, err)
	}
	if st == store.Sealed {
		if err := setReadOnly(sub); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	m.State = st
	if err := writeSidecar(s.meta(), name, m, st == store.Sealed); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Delete removes a snapshot's subvolume, then its sidecar (a crash between
// leaves a sidecar alone, which List reports Pending). It refuses a
// subvolume mounted in any mount namespace: btrfs would delete it and
// leave the mount empty.
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
	writable, err := destroyNested(parent, sub, sub, tree)
	if err != nil {
		return fmt.Errorf("delete the subvolumes made inside it: %w", err)
	}
	if err := destroy(parent, name); err != nil {
		if writable {
			setReadOnly(sub)
		}
		return fmt.Errorf("btrfs subvolume delete %s: %w", s.path(name), err)
	}
	return nil
}

// Usage reads statfs(2) of the filesystem: DataPercent is the share of
// space used, as df counts it (used / (used + available to root)), so it
// covers data and metadata together, which btrfs allocates from one
// device space. MetadataPercent is 0: btrfs has no fixed metadata area
// to fill, and reading its chunk allocation (btrfs filesystem usage)
// would cost a command per request for a figure the data watermarks
// already bound.
func (s *Store) Usage(ctx context.Context) (store.Usage, error) {
	if err := ctx.Err(); err != nil {
		return store.Usage{}, err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(s.dir, &st); err != nil {
		return store.Usage{}, fmt.Errorf("read the cache filesystem's usage at %s: %w", s.dir, err)
	}
	return usageOf(st), nil
}

func usageOf(st unix.Statfs_t) store.Usage {
	bs := uint64(st.Bsize)
	used := (st.Blocks - st.Bfree) * bs
	avail := st.Bavail * bs
	u := store.Usage{DataBytes: int64(st.Blocks * bs)}
	if used+avail > 0 {
		u.DataPercent = float64(used) / float64(used+avail) * 100
	}
	return u
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
