package btrfsstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
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
	// Quota bounds the bytes each new writable snapshot may hold
	// exclusively (written by its job rather than shared with its origin
	// or other snapshots), so that one job cannot fill the filesystem: a
	// write past it fails with EDQUOT inside the machine. 0 sets no
	// bound. New enables btrfs quotas (qgroups) on the filesystem when
	// Quota is set and they are off. See "Quotas" in the package doc.
	Quota int64
}

// Store keeps cache snapshots as btrfs subvolume snapshots. See the
// package doc.
type Store struct {
	dir     string // absolute, symlinks resolved
	defPath string
	defName string
	proc    string
	quota   int64

	mu sync.Mutex
	// deleted are the ids of the subvolumes Delete destroyed since the
	// last Settle, oldest first (at most maxDeleted).
	deleted []uint64
}

var _ store.Store = (*Store)(nil)

// Describe names the store: the filesystem of its directory.
func (s *Store) Describe() string { return "btrfs filesystem at " + s.dir }

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
	if cfg.Quota < 0 {
		return nil, fmt.Errorf("btrfs cache store: quota %d: want a number of bytes, or 0 for none", cfg.Quota)
	}
	if cfg.Quota > 0 {
		if err := ensureQuotas(dir); err != nil {
			return nil, fmt.Errorf("btrfs cache store: a quota of %d bytes per snapshot needs btrfs quotas on the filesystem of %s: %w", cfg.Quota, dir, err)
		}
	}
	proc := cfg.Proc
	if proc == "" {
		proc = "/proc"
	}
	s := &Store{dir: dir, defPath: def, defName: name, proc: proc, quota: cfg.Quota}
	if err := os.Mkdir(s.meta(), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("btrfs cache store: create the metadata directory: %w", s.full(err))
	}
	s.rewriteSeals()
	return s, nil
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

// Create snapshots origin with one ioctl (no fork), limits the
// snapshot's exclusive bytes (Config.Quota), then writes the Pending
// sidecar. A crash between the two leaves a subvolume without a
// sidecar, which List reports Pending. When the sidecar finds no room,
// the snapshot is deleted again (deleting needs no room) and Create
// returns a *store.FullError: nothing is left behind.
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
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, s.full(err))
	}
	if err := s.limit(name); err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, s.unmake(name, err))
	}
	if err := writeSidecar(s.meta(), name, m, false); err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, s.unmake(name, fmt.Errorf("write its metadata: %w", err)))
	}
	return toSnapshot(name, m), nil
}

// unmake deletes the subvolume a Create or Copy just made, after cause
// stopped it, and returns cause (a *store.FullError when it is a lack of
// room). Should the deletion fail too, the subvolume stays without a
// sidecar, which List reports Pending, and the error says so.
func (s *Store) unmake(name string, cause error) error {
	parent, err := os.OpenFile(s.dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err == nil {
		err = destroy(parent, name)
		parent.Close()
	}
	if err != nil {
		return fmt.Errorf("%w (the half-made snapshot is left Pending, to be deleted: %v)", s.full(cause), err)
	}
	return s.full(cause)
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
// transaction, short. Like Create, it deletes the copy again when the
// sidecar finds no room, and returns a *store.FullError.
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
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, s.full(err))
	}
	if err := s.snapshot(ctx, s.path(name), newName, true); err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, s.full(err))
	}
	if err := writeSidecar(s.meta(), newName, m, true); err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, s.unmake(newName, fmt.Errorf("write its metadata: %w", err)))
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
