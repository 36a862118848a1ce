package lvm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// devNum is a block device's major:minor.
type devNum struct{ Major, Minor int }

func (d devNum) String() string { return fmt.Sprintf("%d:%d", d.Major, d.Minor) }

// errNotBlockDevice is returned for a path that exists but is no block
// device.
var errNotBlockDevice = errors.New("not a block device")

// hostProbe is what the provider reads from the host without running a
// command: device nodes and superblocks.
type hostProbe interface {
	// device resolves path, following symlinks such as /dev/disk/by-id/…,
	// to the block device it names. A missing path gives an error
	// wrapping fs.ErrNotExist.
	device(path string) (devNum, string, error)
	// filesystem names the filesystem on the block device at path, or ""
	// when it has none.
	filesystem(path string) (string, error)
}

// realHost reads the real /dev.
type realHost struct{}

func (realHost) device(path string) (devNum, string, error) {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return devNum{}, "", err
	}
	var st unix.Stat_t
	if err := unix.Stat(resolved, &st); err != nil {
		return devNum{}, "", &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return devNum{}, resolved, fmt.Errorf("%s: %w", path, errNotBlockDevice)
	}
	return devNum{Major: int(unix.Major(st.Rdev)), Minor: int(unix.Minor(st.Rdev))}, resolved, nil
}

func (realHost) filesystem(path string) (string, error) { return readFilesystem(path) }

// missing reports an error that means the device does not exist.
func missing(err error) bool { return errors.Is(err, fs.ErrNotExist) || errors.Is(err, os.ErrNotExist) }
