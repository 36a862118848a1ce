package rootfs

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// errEscape marks a name or link target that tries to leave the root.
var errEscape = errors.New("a path with a '..' component is refused: it could reach outside the image's root")

// cleanName turns a tarball entry name or hard link target into a path
// relative to the root ("." for the root itself). Leading slashes and "."
// components are dropped; any ".." component is refused.
func cleanName(name string) (string, error) {
	var parts []string
	for _, p := range strings.Split(name, "/") {
		switch p {
		case "", ".":
		case "..":
			return "", errEscape
		default:
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return ".", nil
	}
	return strings.Join(parts, "/"), nil
}

// splitName splits a cleaned relative path into its parent ("" for the
// root) and last component.
func splitName(rel string) (dir, base string) {
	dir, base = path.Split(rel)
	return strings.TrimSuffix(dir, "/"), base
}

// resolveFlags keep every lookup inside the root: symbolic links and ".."
// are resolved as if the root were "/", /proc magic links are refused and
// mount points are not crossed.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// open resolves rel inside the root and opens it with flags.
func (a *applier) open(rel string, flags int) (int, error) {
	if rel == "" {
		rel = "."
	}
	for {
		fd, err := unix.Openat2(a.root, rel, &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveFlags})
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			// EAGAIN: a rename elsewhere raced the lookup; try again.
			continue
		case errors.Is(err, unix.ENOSYS):
			return -1, errors.New("openat2 is not available: unpacking images needs Linux 5.6 or later")
		default:
			return -1, err
		}
	}
}

// parentDir opens the directory that will hold rel's last component,
// creating missing directories on the way (owned by the image's root, mode
// 0755, as container runtimes do). It returns an O_PATH descriptor.
func (a *applier) parentDir(dir string) (int, error) {
	fd, err := a.open(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, describeLookup(dir, err)
	}
	cur, err := a.open(".", unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return -1, err
	}
	prefix := ""
	for _, comp := range strings.Split(dir, "/") {
		prefix = path.Join(prefix, comp)
		next, err := a.open(prefix, unix.O_PATH|unix.O_DIRECTORY)
		if errors.Is(err, unix.ENOENT) {
			next, err = a.mkdirImplicit(cur, comp, prefix)
		}
		unix.Close(cur)
		if err != nil {
			return -1, describeLookup(prefix, err)
		}
		cur = next
	}
	return cur, nil
}

// mkdirImplicit creates a directory the tarball did not list, in parent.
func (a *applier) mkdirImplicit(parent int, comp, rel string) (int, error) {
	if err := unix.Mkdirat(parent, comp, 0o755); err != nil {
		if errors.Is(err, unix.EEXIST) {
			// Not resolvable as a directory, yet there: a symbolic link to
			// something missing, or a special file.
			return -1, fmt.Errorf("%s exists but does not lead to a directory (a symbolic link to a missing target?)", rel)
		}
		return -1, err
	}
	if err := unix.Fchmodat(parent, comp, 0o755, 0); err != nil {
		return -1, fmt.Errorf("chmod %s: %w", rel, err)
	}
	uid, gid, err := a.opts.IDMap.owner(0, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Fchownat(parent, comp, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return -1, fmt.Errorf("chown %s: %w", rel, err)
	}
	a.created[rel] = true
	return a.open(rel, unix.O_PATH|unix.O_DIRECTORY)
}

// describeLookup explains the errors a lookup inside the root can give.
func describeLookup(rel string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("a parent of %s is not a directory", rel)
	case errors.Is(err, unix.ELOOP):
		return fmt.Errorf("%s: too many levels of symbolic links", rel)
	case errors.Is(err, unix.EXDEV):
		return fmt.Errorf("%s: resolving it would cross a mount point or a magic link, which is refused", rel)
	default:
		return fmt.Errorf("%s: %w", rel, err)
	}
}
