package store

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Unmount unmounts a snapshot's mount at dir, for a store's Unmount,
// saying so plainly when nothing is mounted there.
func Unmount(dir string) error {
	if err := unix.Unmount(dir, 0); err != nil {
		if errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmount cache snapshot at %s: nothing is mounted there: %w", dir, err)
		}
		return fmt.Errorf("unmount cache snapshot at %s: %w", dir, err)
	}
	return nil
}
