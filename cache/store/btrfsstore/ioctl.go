package btrfsstore

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The btrfs ioctls the store uses (linux/btrfs.h). golang.org/x/sys/unix
// has no btrfs ioctls, so their numbers are spelled out here:
// _IOC(dir, 0x94, nr, size) = dir<<30 | size<<16 | 0x94<<8 | nr.
const (
	iocSnapDestroy    = 0x5000940f // _IOW(0x94, 15, struct btrfs_ioctl_vol_args)
	iocInoLookup      = 0xd0009412 // _IOWR(0x94, 18, struct btrfs_ioctl_ino_lookup_args)
	iocSnapCreateV2   = 0x50009417 // _IOW(0x94, 23, struct btrfs_ioctl_vol_args_v2)
	iocSubvolGetflags = 0x80089419 // _IOR(0x94, 25, __u64)
	iocSubvolSetflags = 0x4008941a // _IOW(0x94, 26, __u64)
	iocFsInfo         = 0x8400941f // _IOR(0x94, 31, struct btrfs_ioctl_fs_info_args)

	subvolRdonly = 1 << 1 // BTRFS_SUBVOL_RDONLY

	firstFreeObjectID = 256 // BTRFS_FIRST_FREE_OBJECTID: the root directory of every subvolume
)

// volArgs is struct btrfs_ioctl_vol_args (4096 bytes).
type volArgs struct {
	fd   int64
	name [4088]byte
}

// volArgsV2 is struct btrfs_ioctl_vol_args_v2 (4096 bytes).
type volArgsV2 struct {
	fd    int64
	_     uint64 // transid
	flags uint64
	_     [4]uint64
	name  [4040]byte
}

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

// setReadOnly makes the subvolume open as f read-only.
func setReadOnly(f *os.File) error {
	var flags uint64
	if err := ioctl(f.Fd(), iocSubvolGetflags, unsafe.Pointer(&flags)); err != nil {
		return fmt.Errorf("read subvolume flags: %w", err)
	}
	if flags&subvolRdonly != 0 {
		return nil
	}
	flags |= subvolRdonly
	if err := ioctl(f.Fd(), iocSubvolSetflags, unsafe.Pointer(&flags)); err != nil {
		return fmt.Errorf("set subvolume read-only: %w", err)
	}
	return nil
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
