package rootfs

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Options says how to apply layers.
type Options struct {
	// IDMap shifts ownership for a machine with private users; nil keeps
	// the image's ids.
	IDMap *IDMap
}

// Stats counts what a layer held.
type Stats struct {
	Entries int
	// Bytes is the size of the regular files' contents written.
	Bytes int64
}

// applier applies one layer to a root directory.
type applier struct {
	root int // the root directory, O_RDONLY
	opts Options
	// created holds the paths this layer wrote (or created as parents), so
	// that an opaque whiteout spares them.
	created map[string]bool
	// dirTimes are set when the layer is done.
	dirTimes []dirTime
	stats    Stats
}

type dirTime struct {
	rel string
	ts  []unix.Timespec
}

// ApplyLayer writes one uncompressed layer tarball into the directory root,
// which must exist. See the package documentation for what it does and
// refuses. On error the root is left half-written: apply into a Stage and
// Discard it.
func ApplyLayer(ctx context.Context, root string, layer io.Reader, opts Options) (Stats, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Stats{}, fmt.Errorf("opening %s: %w", root, err)
	}
	defer unix.Close(fd)
	a := &applier{root: fd, opts: opts, created: map[string]bool{}}
	tr := tar.NewReader(layer)
	for {
		if err := ctx.Err(); err != nil {
			return a.stats, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return a.stats, fmt.Errorf("reading the layer: %w", err)
		}
		if err := a.entry(hdr, tr); err != nil {
			return a.stats, fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		a.stats.Entries++
	}
	return a.stats, a.setDirTimes()
}

// entry writes one tarball entry.
func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if rel == "." {
		return a.rootEntry(hdr)
	}
	dir, base := splitName(rel)
	if strings.HasPrefix(base, whiteoutPrefix) {
		return a.whiteout(dir, base)
	}
	parent, err := a.parentDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	a.created[rel] = true
	switch hdr.Typeflag {
	case tar.TypeReg: // the reader turns the old TypeRegA into TypeReg
		return a.regular(parent, base, hdr, r)
	case tar.TypeDir:
		return a.directory(parent, base, rel, hdr)
	case tar.TypeSymlink:
		return a.symlink(parent, base, hdr)
	case tar.TypeLink:
		return a.hardlink(parent, base, rel, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return a.node(parent, base, hdr)
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
}

// rootEntry applies the metadata of the root directory's own entry ("./").
func (a *applier) rootEntry(hdr *tar.Header) error {
	if hdr.Typeflag != tar.TypeDir {
		return fmt.Errorf("the image's root must be a directory, not type %q", hdr.Typeflag)
	}
	if err := a.setMetaFD(a.root, hdr); err != nil {
		return err
	}
	a.dirTimes = append(a.dirTimes, dirTime{rel: ".", ts: times(hdr)})
	return nil
}

func (a *applier) regular(parent int, base string, hdr *tar.Header, r io.Reader) error {
	if _, err := makeRoom(parent, base, false); err != nil {
		return err
	}
	fd, err := unix.Openat(parent, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	n, err := io.Copy(f, r)
	a.stats.Bytes += n
	if err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	if err := a.setMetaFD(fd, hdr); err != nil {
		return err
	}
	return a.setTimes(parent, base, hdr)
}

func (a *applier) directory(parent int, base, rel string, hdr *tar.Header) error {
	kept, err := makeRoom(parent, base, true)
	if err != nil {
		return err
	}
	if !kept {
		if err := unix.Mkdirat(parent, base, 0o700); err != nil {
			return err
		}
	}
	fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := a.setMetaFD(fd, hdr); err != nil {
		return err
	}
	a.dirTimes = append(a.dirTimes, dirTime{rel: rel, ts: times(hdr)})
	return nil
}

// symlink creates a symbolic link. Its target is stored as is, whatever it
// points to: it is only ever resolved inside the root (here) or inside the
// machine.
func (a *applier) symlink(parent int, base string, hdr *tar.Header) error {
	if _, err := makeRoom(parent, base, false); err != nil {
		return err
	}
	if err := unix.Symlinkat(hdr.Linkname, parent, base); err != nil {
		return err
	}
	if err := a.setMetaAt(parent, base, hdr, true); err != nil {
		return err
	}
	return a.setTimes(parent, base, hdr)
}

// hardlink links to an entry already in the root. The target is resolved
// inside the root without following a final symbolic link (a hard link to
// a symbolic link links the link). It keeps the target's metadata.
func (a *applier) hardlink(parent int, base, rel string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
	}
	if target == rel {
		return nil // a link to itself: the file is already there
	}
	tfd, err := a.open(target, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return fmt.Errorf("hard link target: %w", describeLookup(target, err))
	}
	defer unix.Close(tfd)
	var st unix.Stat_t
	if err := unix.Fstat(tfd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("hard link to the directory %s", target)
	}
	if _, err := makeRoom(parent, base, false); err != nil {
		return err
	}
	err = unix.Linkat(tfd, "", parent, base, unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOENT) {
		// AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the /proc link of the
		// descriptor names the same inode without it.
		err = unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", tfd), parent, base, unix.AT_SYMLINK_FOLLOW)
	}
	return err
}

// node creates a device node or FIFO.
func (a *applier) node(parent int, base string, hdr *tar.Header) error {
	if _, err := makeRoom(parent, base, false); err != nil {
		return err
	}
	mode := perm(hdr)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	default:
		mode |= unix.S_IFIFO
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknodat(parent, base, mode, int(dev)); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("creating a device node needs root (CAP_MKNOD): %w", err)
		}
		return err
	}
	if err := a.setMetaAt(parent, base, hdr, false); err != nil {
		return err
	}
	return a.setTimes(parent, base, hdr)
}

func (a *applier) setTimes(parent int, base string, hdr *tar.Header) error {
	if err := unix.UtimesNanoAt(parent, base, times(hdr), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting times: %w", err)
	}
	return nil
}

// setDirTimes sets the directories' times once nothing more is written
// into them. A directory replaced later in the layer is skipped.
func (a *applier) setDirTimes() error {
	for _, d := range a.dirTimes {
		fd, err := a.open(d.rel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			continue
		}
		if err != nil {
			return describeLookup(d.rel, err)
		}
		err = unix.UtimesNanoAt(fd, ".", d.ts, 0)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("setting times of %s: %w", d.rel, err)
		}
	}
	return nil
}
