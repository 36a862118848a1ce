package rootfs

import (
	"archive/tar"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// IDMap shifts ownership for a machine with private users
// (systemd-nspawn --private-users=BASE:SIZE): id N in the image is owned by
// Base+N on the host. An id at or beyond Size has no owner inside the
// machine and is refused.
type IDMap struct {
	Base uint32
	Size uint32
}

// owner maps an image's uid and gid to the host's. A nil map keeps them.
func (m *IDMap) owner(uid, gid int) (int, int, error) {
	if uid < 0 || gid < 0 {
		return 0, 0, fmt.Errorf("negative owner %d:%d", uid, gid)
	}
	if m == nil {
		return uid, gid, nil
	}
	for _, id := range []int{uid, gid} {
		if uint64(id) >= uint64(m.Size) {
			return 0, 0, fmt.Errorf("owned by id %d, outside the %d ids the machine's private user range maps (%d:%d); give the machine a larger range, or fix the image", id, m.Size, m.Base, m.Size)
		}
	}
	return int(m.Base) + uid, int(m.Base) + gid, nil
}

// perm is the permission part of a tar mode, setuid, setgid and sticky
// bits included (tar uses the same values as Linux).
func perm(hdr *tar.Header) uint32 { return uint32(hdr.Mode) & 0o7777 }

// xattrPrefix starts the PAX records that carry extended attributes.
const xattrPrefix = "SCHILY.xattr."

// capabilityXattr holds file capabilities.
const capabilityXattr = "security.capability"

// xattrs lists an entry's extended attributes in a stable order, with
// file capabilities adjusted to the id map.
func (a *applier) xattrs(hdr *tar.Header) ([][2]string, error) {
	var out [][2]string
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, xattrPrefix)
		if !ok || name == "" {
			continue
		}
		if name == capabilityXattr && a.opts.IDMap != nil {
			shifted, err := shiftCapability([]byte(v), a.opts.IDMap)
			if err != nil {
				return nil, err
			}
			v = string(shifted)
		}
		out = append(out, [2]string{name, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out, nil
}

// setMetaFD sets owner, permissions and extended attributes through an
// open descriptor of a regular file or directory, in the order that keeps
// setuid bits and capabilities.
func (a *applier) setMetaFD(fd int, hdr *tar.Header) error {
	uid, gid, err := a.opts.IDMap.owner(hdr.Uid, hdr.Gid)
	if err != nil {
		return err
	}
	if err := unix.Fchown(fd, uid, gid); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if err := unix.Fchmod(fd, perm(hdr)); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	xs, err := a.xattrs(hdr)
	if err != nil {
		return err
	}
	for _, x := range xs {
		if err := unix.Fsetxattr(fd, x[0], []byte(x[1]), 0); err != nil && !ignorableXattrError(x[0], err) {
			return fmt.Errorf("setting extended attribute %s: %w", x[0], err)
		}
	}
	return nil
}

// setMetaAt does the same for a symbolic link (no permissions: Linux
// ignores them) or a device node, by name in its parent.
func (a *applier) setMetaAt(parent int, base string, hdr *tar.Header, isLink bool) error {
	uid, gid, err := a.opts.IDMap.owner(hdr.Uid, hdr.Gid)
	if err != nil {
		return err
	}
	if err := unix.Fchownat(parent, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if !isLink {
		if err := unix.Fchmodat(parent, base, perm(hdr), 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	xs, err := a.xattrs(hdr)
	if err != nil {
		return err
	}
	// The parent is an O_PATH descriptor inside the root; its /proc link
	// names it without another lookup, and Lsetxattr does not follow the
	// last component.
	p := fmt.Sprintf("/proc/self/fd/%d/%s", parent, base)
	for _, x := range xs {
		if err := unix.Lsetxattr(p, x[0], []byte(x[1]), 0); err != nil && !ignorableXattrError(x[0], err) {
			return fmt.Errorf("setting extended attribute %s: %w", x[0], err)
		}
	}
	return nil
}

// ignorableXattrError reports failures to set SELinux labels on a host
// that does not support them: the label only matters where SELinux runs.
func ignorableXattrError(name string, err error) bool {
	return name == "security.selinux" && (errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP))
}

// times are an entry's access and modification times for utimensat.
func times(hdr *tar.Header) []unix.Timespec {
	mt := hdr.ModTime
	at := hdr.AccessTime
	if at.IsZero() {
		at = mt
	}
	return []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
}

// File capability xattr layout (linux/capability.h): a little-endian
// magic word holding the revision and flags, then permitted and
// inheritable masks (two 32-bit words each); revision 3 adds the uid that
// is root for the capabilities.
const (
	vfsCapRevisionMask = 0xFF000000
	vfsCapRevision2    = 0x02000000
	vfsCapRevision3    = 0x03000000
	vfsCapFlagsMask    = ^uint32(vfsCapRevisionMask)
	vfsCapV2Size       = 20
	vfsCapV3Size       = 24
)

// shiftCapability rewrites a file capability for a machine whose root is
// m.Base on the host: revision 3 with that root id, as the kernel writes it
// when root in a user namespace sets a capability.
func shiftCapability(v []byte, m *IDMap) ([]byte, error) {
	if len(v) < 4 {
		return nil, errors.New("malformed security.capability attribute")
	}
	magic := binary.LittleEndian.Uint32(v)
	var rootID uint32
	switch {
	case magic&vfsCapRevisionMask == vfsCapRevision2 && len(v) == vfsCapV2Size:
	case magic&vfsCapRevisionMask == vfsCapRevision3 && len(v) == vfsCapV3Size:
		rootID = binary.LittleEndian.Uint32(v[vfsCapV2Size:])
	default:
		return nil, fmt.Errorf("security.capability attribute of unknown revision %#x or size %d", magic&vfsCapRevisionMask, len(v))
	}
	if rootID >= m.Size {
		return nil, fmt.Errorf("security.capability attribute owned by id %d, outside the machine's %d ids", rootID, m.Size)
	}
	out := make([]byte, vfsCapV3Size)
	copy(out, v[:vfsCapV2Size])
	binary.LittleEndian.PutUint32(out, vfsCapRevision3|magic&vfsCapFlagsMask)
	binary.LittleEndian.PutUint32(out[vfsCapV2Size:], m.Base+rootID)
	return out, nil
}
