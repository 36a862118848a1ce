package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// Whiteout names from the OCI image spec (image-layout, "Whiteouts").
const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// whiteout applies a whiteout entry found in dir.
func (a *applier) whiteout(dir, base string) error {
	if base != whiteoutOpaque && len(base) >= len(whiteoutMeta) && base[:len(whiteoutMeta)] == whiteoutMeta {
		return nil // aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): nothing to apply
	}
	name := base[len(whiteoutPrefix):]
	if base != whiteoutOpaque && (name == "" || name == "." || name == "..") {
		return fmt.Errorf("malformed whiteout %q", base)
	}
	fd, err := a.open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		return nil // nothing below to hide
	}
	if err != nil {
		return describeLookup(dir, err)
	}
	defer unix.Close(fd)
	if base == whiteoutOpaque {
		return a.opaque(fd, dir)
	}
	return removeAllAt(fd, name)
}

// opaque removes what the lower layers put in dir, keeping what this layer
// wrote there (before or after the marker).
func (a *applier) opaque(fd int, dir string) error {
	names, err := readNames(fd)
	if err != nil {
		return fmt.Errorf("listing %s: %w", dir, err)
	}
	for _, n := range names {
		if a.created[path.Join(dir, n)] {
			continue
		}
		if err := removeAllAt(fd, n); err != nil {
			return err
		}
	}
	return nil
}

// readNames lists a directory opened for reading.
func readNames(fd int) ([]string, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "dir")
	defer f.Close()
	var all []string
	for {
		names, err := f.Readdirnames(256)
		all = append(all, names...)
		if errors.Is(err, io.EOF) {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// removeAllAt removes name in the directory dirfd and everything below
// it, never following a symbolic link. A missing name is not an error.
func removeAllAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	switch {
	case err == nil, errors.Is(err, unix.ENOENT):
		return nil
	case !errors.Is(err, unix.EISDIR):
		return fmt.Errorf("removing %s: %w", name, err)
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s to remove it: %w", name, err)
	}
	names, err := readNames(fd)
	if err == nil {
		for _, n := range names {
			if err = removeAllAt(fd, n); err != nil {
				break
			}
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("removing directory %s: %w", name, err)
	}
	return nil
}

// makeRoom makes room for a new entry called base in parent. An existing
// directory is kept when keepDir is set (a directory entry over a
// directory updates it); anything else there is removed. It reports
// whether a directory was kept.
func makeRoom(parent int, base string, keepDir bool) (bool, error) {
	var st unix.Stat_t
	err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if keepDir && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return true, nil
	}
	return false, removeAllAt(parent, base)
}
