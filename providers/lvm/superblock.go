package lvm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"golang.org/x/sys/unix"
)

// Filesystem superblock magics, at their byte offsets on the device. Reading
// them in Go costs no command per volume, so refresh stays at three.
const (
	xfsMagicOffset   = 0     // "XFSB", xfs_sb.sb_magicnum
	extSuperOffset   = 1024  // ext2/3/4 superblock
	extMagicOffset   = 1080  // 0xEF53 little-endian, s_magic
	btrfsMagicOffset = 65600 // "_BHRfS_M", 64 bytes into the superblock at 64 KiB
)

// ext feature flags that tell ext4 from ext2/ext3.
const (
	extCompatHasJournal = 0x4
	extIncompatExtents  = 0x40
	extIncompat64Bit    = 0x80
	extIncompatFlexBG   = 0x200
)

// detectFilesystem names the filesystem whose superblock r starts with:
// "xfs", "ext4", "ext3", "ext2", "btrfs", or "" when none is recognised.
func detectFilesystem(r io.ReaderAt) (string, error) {
	if m, err := readAt(r, xfsMagicOffset, 4); err != nil {
		return "", err
	} else if string(m) == "XFSB" {
		return "xfs", nil
	}
	sb, err := readAt(r, extSuperOffset, 1024)
	if err != nil {
		return "", err
	}
	if binary.LittleEndian.Uint16(sb[extMagicOffset-extSuperOffset:]) == 0xEF53 {
		compat := binary.LittleEndian.Uint32(sb[0x5C:])
		incompat := binary.LittleEndian.Uint32(sb[0x60:])
		switch {
		case incompat&(extIncompatExtents|extIncompat64Bit|extIncompatFlexBG) != 0:
			return "ext4", nil
		case compat&extCompatHasJournal != 0:
			return "ext3", nil
		default:
			return "ext2", nil
		}
	}
	m, err := readAt(r, btrfsMagicOffset, 8)
	if err != nil {
		return "", err
	}
	if bytes.Equal(m, []byte("_BHRfS_M")) {
		return "btrfs", nil
	}
	return "", nil
}

// readAt reads n bytes at off; a device too small to hold them reads as
// zeros (it cannot hold that superblock).
func readAt(r io.ReaderAt, off int64, n int) ([]byte, error) {
	buf := make([]byte, n)
	_, err := r.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf, nil
}

// readFilesystem opens a block device read-only and detects its filesystem.
// It uses the file descriptor directly: os.Open would also make it
// non-blocking and offer it to the poller, two system calls more per
// volume that a refresh of hundreds of volumes feels.
func readFilesystem(path string) (string, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	fsType, err := detectFilesystem(fdReader(fd))
	if err != nil {
		return "", fmt.Errorf("read superblock of %s: %w", path, err)
	}
	return fsType, nil
}

// fdReader reads a file descriptor at offsets.
type fdReader int

func (f fdReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := unix.Pread(int(f), p, off)
	switch {
	case err != nil:
		return max(n, 0), err
	case n < len(p):
		return n, io.EOF
	}
	return n, nil
}
