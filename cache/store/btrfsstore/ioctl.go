package btrfsstore

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The btrfs ioctls the store uses (linux/btrfs.h). golang.org/x/sys/unix
// has no btrfs ioctls, so their numbers are spelled out here:
// _IOC(dir, 0x94, nr, size) = dir<<30 | size<<16 | 0x94<<8 | nr.
const (
	iocSnapDestroy    = 0x5000940f // _IOW(0x94, 15, struct btrfs_ioctl_vol_args)
	iocTreeSearch     = 0xd0009411 // _IOWR(0x94, 17, struct btrfs_ioctl_search_args)
	iocInoLookup      = 0xd0009412 // _IOWR(0x94, 18, struct btrfs_ioctl_ino_lookup_args)
	iocSnapCreateV2   = 0x50009417 // _IOW(0x94, 23, struct btrfs_ioctl_vol_args_v2)
	iocSubvolGetflags = 0x80089419 // _IOR(0x94, 25, __u64)
	iocSubvolSetflags = 0x4008941a // _IOW(0x94, 26, __u64)
	iocFsInfo         = 0x8400941f // _IOR(0x94, 31, struct btrfs_ioctl_fs_info_args)
	iocQuotaCtl       = 0xc0109428 // _IOWR(0x94, 40, struct btrfs_ioctl_quota_ctl_args)
	iocQgroupLimit    = 0x8030942b // _IOR(0x94, 43, struct btrfs_ioctl_qgroup_limit_args): _IOR, as the kernel has it
	iocRescanStatus   = 0x8040942d // _IOR(0x94, 45, struct btrfs_ioctl_quota_rescan_args)
	iocRescanWait     = 0x0000942e // _IO(0x94, 46)
	iocSnapDestroyV2  = 0x5000943f // _IOW(0x94, 63, struct btrfs_ioctl_vol_args_v2)

	subvolRdonly   = 1 << 1 // BTRFS_SUBVOL_RDONLY
	subvolSpecByID = 1 << 4 // BTRFS_SUBVOL_SPEC_BY_ID

	firstFreeObjectID = 256 // BTRFS_FIRST_FREE_OBJECTID: the root directory of every subvolume

	// Trees and item types (btrfs_tree.h) the store searches.
	rootTreeObjectID  = 1   // BTRFS_ROOT_TREE_OBJECTID: one item set per subvolume
	quotaTreeObjectID = 8   // BTRFS_QUOTA_TREE_OBJECTID: the qgroups, when quotas are on
	inodeRefKey       = 12  // BTRFS_INODE_REF_KEY: (inode, INODE_REF, parent directory) → name
	rootRefKey        = 156 // BTRFS_ROOT_REF_KEY: (subvolume, ROOT_REF, child subvolume) → directory, name
	qgroupStatusKey   = 240 // BTRFS_QGROUP_STATUS_KEY: (0, QGROUP_STATUS, 0) → version, generation, flags
	qgroupInfoKey     = 242 // BTRFS_QGROUP_INFO_KEY: (0, QGROUP_INFO, qgroup id) → the counters

	quotaCtlEnable        = 1      // BTRFS_QUOTA_CTL_ENABLE: full accounting
	qgroupLimitMaxExcl    = 1 << 1 // BTRFS_QGROUP_LIMIT_MAX_EXCL
	qgroupStatusRescan    = 1 << 1 // BTRFS_QGROUP_STATUS_FLAG_RESCAN
	qgroupStatusInconsist = 1 << 2 // BTRFS_QGROUP_STATUS_FLAG_INCONSISTENT
	qgroupLimitClearValue = math.MaxUint64
)

// quotaCtlArgs is struct btrfs_ioctl_quota_ctl_args (16 bytes).
type quotaCtlArgs struct {
	cmd, status uint64
}

// qgroupLimitArgs is struct btrfs_ioctl_qgroup_limit_args (48 bytes):
// a qgroup id (0: the subvolume of the descriptor) and a struct
// btrfs_qgroup_limit.
type qgroupLimitArgs struct {
	qgroupID                      uint64
	flags, maxRfer, maxExcl, _, _ uint64
}

// rescanArgs is struct btrfs_ioctl_quota_rescan_args (64 bytes).
type rescanArgs struct {
	flags, progress uint64
	_               [6]uint64
}

// volArgs is struct btrfs_ioctl_vol_args (4096 bytes).
type volArgs struct {
	fd   int64
	name [4088]byte
}

// volArgsV2 is struct btrfs_ioctl_vol_args_v2 (4096 bytes). name shares
// its place with subvolid (BTRFS_SUBVOL_SPEC_BY_ID).
type volArgsV2 struct {
	fd    int64
	_     uint64 // transid
	flags uint64
	_     [4]uint64
	name  [4040]byte
}

// searchKey is struct btrfs_ioctl_search_key (104 bytes). The kernel
// returns the items whose key (objectid, type, offset) lies between the
// minimum and the maximum taken as whole tuples, not field by field.
type searchKey struct {
	treeID                   uint64
	minObjectID, maxObjectID uint64
	minOffset, maxOffset     uint64
	minTransID, maxTransID   uint64
	minType, maxType         uint32
	nrItems                  uint32
	_                        uint32
	_                        [4]uint64
}

// searchArgs is struct btrfs_ioctl_search_args (4096 bytes): the key, then
// the items found, each a 32-byte struct btrfs_ioctl_search_header (in
// the CPU's byte order) and the item as it is on disk (little-endian).
type searchArgs struct {
	key searchKey
	buf [4096 - 104]byte
}

const searchHeaderSize = 32

// inoLookupArgs is struct btrfs_ioctl_ino_lookup_args (4096 bytes).
type inoLookupArgs struct {
	treeid   uint64
	objectid uint64
	name     [4080]byte
}

// fsInfoArgs is struct btrfs_ioctl_fs_info_args (1024 bytes), of which
// the store reads the filesystem's UUID.
type fsInfoArgs struct {
	_    [2]uint64 // max_id, num_devices
	fsid [16]byte
	_    [992]byte
}

func ioctl(fd uintptr, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

// snapshot makes a snapshot of the subvolume open as src, named name in
// the directory open as parent: BTRFS_IOC_SNAP_CREATE_V2, one system
// call, no fork. The kernel commits the transaction before it returns, so
// the snapshot survives a crash the moment the call succeeds.
func snapshot(parent, src *os.File, name string, readOnly bool) error {
	var a volArgsV2
	if len(name) >= len(a.name) {
		return fmt.Errorf("subvolume name %q is too long", name)
	}
	a.fd = int64(src.Fd())
	copy(a.name[:], name)
	if readOnly {
		a.flags = subvolRdonly
	}
	return ioctl(parent.Fd(), iocSnapCreateV2, unsafe.Pointer(&a))
}

// destroy deletes the subvolume name in the directory open as parent
// (BTRFS_IOC_SNAP_DESTROY; root may delete read-only ones too).
func destroy(parent *os.File, name string) error {
	var a volArgs
	if len(name) >= len(a.name) {
		return fmt.Errorf("subvolume name %q is too long", name)
	}
	copy(a.name[:], name)
	return ioctl(parent.Fd(), iocSnapDestroy, unsafe.Pointer(&a))
}

// destroyByID deletes subvolume id of the filesystem holding the
// directory open as fsDir (BTRFS_IOC_SNAP_DESTROY_V2 with
// BTRFS_SUBVOL_SPEC_BY_ID, Linux 5.7): the kernel finds its parent
// directory itself, wherever it is, without the store walking the job's
// files. The parent must be writable (not a read-only subvolume), and
// fsDir must not be on an idmapped mount.
func destroyByID(fsDir *os.File, id uint64) error {
	var a volArgsV2
	a.flags = subvolSpecByID
	binary.NativeEndian.PutUint64(a.name[:8], id)
	return ioctl(fsDir.Fd(), iocSnapDestroyV2, unsafe.Pointer(&a))
}

// readOnly reports whether the subvolume open as f is read-only.
func readOnly(f *os.File) (bool, error) {
	var flags uint64
	if err := ioctl(f.Fd(), iocSubvolGetflags, unsafe.Pointer(&flags)); err != nil {
		return false, fmt.Errorf("read subvolume flags: %w", err)
	}
	return flags&subvolRdonly != 0, nil
}

// setWritable clears the read-only flag of the subvolume open as f.
func setWritable(f *os.File) error {
	var flags uint64
	if err := ioctl(f.Fd(), iocSubvolGetflags, unsafe.Pointer(&flags)); err != nil {
		return fmt.Errorf("read subvolume flags: %w", err)
	}
	if flags&subvolRdonly == 0 {
		return nil
	}
	flags &^= subvolRdonly
	if err := ioctl(f.Fd(), iocSubvolSetflags, unsafe.Pointer(&flags)); err != nil {
		return fmt.Errorf("clear the subvolume's read-only flag: %w", err)
	}
	return nil
}

// treeSearch calls fn with every item of tree key.treeID whose key lies
// between key's minimum and maximum (BTRFS_IOC_TREE_SEARCH, which needs
// CAP_SYS_ADMIN), in key order, a buffer of items per system call. The
// range is one of whole keys: fn sees every type and offset of the
// objectids strictly inside it, and filters.
func treeSearch(f *os.File, key searchKey, fn func(objectID uint64, typ uint32, offset uint64, item []byte) error) error {
	for {
		a := searchArgs{key: key}
		a.key.nrItems = math.MaxUint32
		if err := ioctl(f.Fd(), iocTreeSearch, unsafe.Pointer(&a)); err != nil {
			return err
		}
		if a.key.nrItems == 0 {
			return nil
		}
		var objectID, offset uint64
		var typ uint32
		buf := a.buf[:]
		for range a.key.nrItems {
			if len(buf) < searchHeaderSize {
				return fmt.Errorf("btrfs tree search: a cut-short item header")
			}
			objectID = binary.NativeEndian.Uint64(buf[8:])
			offset = binary.NativeEndian.Uint64(buf[16:])
			typ = binary.NativeEndian.Uint32(buf[24:])
			n := int(binary.NativeEndian.Uint32(buf[28:]))
			if len(buf) < searchHeaderSize+n {
				return fmt.Errorf("btrfs tree search: a cut-short item")
			}
			if err := fn(objectID, typ, offset, buf[searchHeaderSize:searchHeaderSize+n]); err != nil {
				return err
			}
			buf = buf[searchHeaderSize+n:]
		}
		// Go on after the last key returned.
		switch {
		case offset < math.MaxUint64:
			key.minObjectID, key.minType, key.minOffset = objectID, typ, offset+1
		case typ < math.MaxUint8:
			key.minObjectID, key.minType, key.minOffset = objectID, typ+1, 0
		case objectID < math.MaxUint64:
			key.minObjectID, key.minType, key.minOffset = objectID+1, 0, 0
		default:
			return nil
		}
		if key.minObjectID > key.maxObjectID {
			return nil
		}
	}
}

// setReadOnly makes the subvolume open as f read-only, and reports
// whether it was writable. Setting the flag commits a transaction, so it
// is durable, with every change made before it, when the call returns.
func setReadOnly(f *os.File) (bool, error) {
	var flags uint64
	if err := ioctl(f.Fd(), iocSubvolGetflags, unsafe.Pointer(&flags)); err != nil {
		return false, fmt.Errorf("read subvolume flags: %w", err)
	}
	if flags&subvolRdonly != 0 {
		return false, nil
	}
	flags |= subvolRdonly
	if err := ioctl(f.Fd(), iocSubvolSetflags, unsafe.Pointer(&flags)); err != nil {
		return false, fmt.Errorf("set subvolume read-only: %w", err)
	}
	return true, nil
}

// subvolumeID returns the ID of the subvolume open as f.
func subvolumeID(f *os.File) (uint64, error) {
	a := inoLookupArgs{objectid: firstFreeObjectID}
	if err := ioctl(f.Fd(), iocInoLookup, unsafe.Pointer(&a)); err != nil {
		return 0, fmt.Errorf("look up subvolume id: %w", err)
	}
	return a.treeid, nil
}

// filesystemID returns the UUID of the btrfs filesystem holding path.
// statfs's f_fsid cannot tell: btrfs mixes the subvolume's id into it.
func filesystemID(path string) ([16]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return [16]byte{}, err
	}
	defer f.Close()
	var a fsInfoArgs
	if err := ioctl(f.Fd(), iocFsInfo, unsafe.Pointer(&a)); err != nil {
		return [16]byte{}, fmt.Errorf("read the btrfs filesystem id of %s: %w", path, err)
	}
	return a.fsid, nil
}
