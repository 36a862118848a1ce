package lvmstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
)

// devPath is the device node LVM makes for an active LV.
func devPath(vg, lv string) string { return "/dev/" + vg + "/" + lv }

// mountFlags are the flags of every mount of a snapshot: whatever a job
// wrote into its cache (a setuid-root binary, a device node) stays inert
// on the host, and so in every mount cloned from this one into a machine.
const mountFlags = unix.MS_NOSUID | unix.MS_NODEV

// Mount mounts the snapshot's filesystem at dir with mount(2), nosuid and
// nodev (mountFlags) whatever the configured options: no command runs
// unless the snapshot is inactive (after a reboot, say), when one
// lvchange activates it. The filesystem is read from its superblock:
//
//   - xfs is mounted with nouuid, since every thin snapshot of an xfs
//     volume has the origin's UUID and xfs refuses a second mount of one;
//   - ext4 (and ext2/3, through the ext4 driver) needs nothing;
//   - btrfs is refused: a thin snapshot of btrfs has the origin's fsid,
//     and the kernel takes both for devices of one filesystem (Linux 6.1
//     fails the mount with EEXIST while the origin is mounted; without
//     that, it may mount the wrong device). Use xfs or ext4 for the
//     default volume, or the btrfs store.
func (s *Store) Mount(ctx context.Context, name, dir string) error {
	if name == s.def {
		return fmt.Errorf("mount %s: the agent mounts snapshots of the default volume, never the volume itself: %w", s.defID(), store.ErrDefault)
	}
	id := s.id(name)
	if err := checkLVMName(name); err != nil {
		return fmt.Errorf("mount cache snapshot %s: %w", id, err)
	}
	dev := devPath(s.vg, name)
	if _, err := os.Stat(dev); errors.Is(err, fs.ErrNotExist) {
		if err := s.change(ctx, "lvchange", "--activate", "y", "--ignoreactivationskip", id); err != nil {
			return fmt.Errorf("mount cache snapshot %s: activate: %w", id, s.noRoom(ctx, err))
		}
	}
	fstype, err := probeDevice(dev)
	if err != nil {
		return fmt.Errorf("mount cache snapshot %s: %w", id, err)
	}
	var opts []string
	switch fstype {
	case "xfs":
		opts = append(opts, "nouuid")
	case "ext4":
	case "btrfs":
		return fmt.Errorf("mount cache snapshot %s: it holds btrfs, whose thin snapshots share the origin's filesystem id, which the kernel cannot tell apart; make the default volume %s xfs or ext4, or use the btrfs cache store", id, s.defID())
	default:
		return fmt.Errorf("mount cache snapshot %s: no xfs or ext4 filesystem on it; make one on the default volume %s (mkfs.xfs)", id, s.defID())
	}
	opts = append(opts, s.mountOptions...)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mount cache snapshot %s: %w", id, err)
	}
	if err := unix.Mount(dev, dir, fstype, mountFlags, strings.Join(opts, ",")); err != nil {
		// Mounting writes (xfs's log): on a full pool it fails ENOSPC.
		return fmt.Errorf("mount cache snapshot %s (%s, nosuid,nodev, options %q) at %s: %w", id, fstype, strings.Join(opts, ","), dir, s.noRoom(ctx, err))
	}
	return nil
}

// Unmount unmounts dir. The snapshot stays active; Delete deactivates it.
func (s *Store) Unmount(_ context.Context, dir string) error {
	return store.Unmount(dir)
}

// syncMounted checks that dir is a mount of the device dev and writes its
// filesystem's dirty data with syncfs(2).
func syncMounted(ctx context.Context, dir, dev string) error {
	var ds unix.Stat_t
	if err := unix.Stat(dev, &ds); err != nil {
		return fmt.Errorf("it is not active (%s: %w), so %s cannot be its mount", dev, err, dir)
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
	if st.Dev != ds.Rdev {
		return fmt.Errorf("%s is not its mount: that is device %d:%d, the snapshot is %d:%d",
			dir, unix.Major(st.Dev), unix.Minor(st.Dev), unix.Major(ds.Rdev), unix.Minor(ds.Rdev))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}

// Superblock magics at their byte offsets.
const (
	xfsMagicOffset   = 0     // "XFSB"
	extMagicOffset   = 1080  // 0xEF53 little-endian, s_magic of the superblock at 1024
	btrfsMagicOffset = 65600 // "_BHRfS_M", 64 bytes into the superblock at 64 KiB
)

// probeDevice names the filesystem on a block device.
func probeDevice(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fstype, err := probe(f)
	if err != nil {
		return "", fmt.Errorf("read the superblock of %s: %w", path, err)
	}
	return fstype, nil
}

// probe names the filesystem whose superblock r holds: "xfs", "ext4" (for
// any of ext2/3/4, which the ext4 driver mounts), "btrfs", or "".
func probe(r io.ReaderAt) (string, error) {
	buf := make([]byte, btrfsMagicOffset+8)
	if n, err := r.ReadAt(buf, 0); err != nil && !(errors.Is(err, io.EOF) && n > 0) {
		return "", err
	}
	switch {
	case bytes.Equal(buf[xfsMagicOffset:xfsMagicOffset+4], []byte("XFSB")):
		return "xfs", nil
	case binary.LittleEndian.Uint16(buf[extMagicOffset:]) == 0xEF53:
		return "ext4", nil
	case bytes.Equal(buf[btrfsMagicOffset:], []byte("_BHRfS_M")):
		return "btrfs", nil
	}
	return "", nil
}
