package btrfsstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
)

// btrfs deletes a subvolume in two steps: BTRFS_IOC_SNAP_DESTROY unlinks
// it and returns, and the cleaner thread drops its tree later, once the
// transaction thread wakes it (every commit interval, 30 seconds by
// default). Its space is free for statfs only after the transaction that
// dropped the last of the tree is committed. Settle makes that happen
// now and waits for it, as `btrfs subvolume sync` does: it polls for the
// subvolumes' ROOT_ITEMs, which the cleaner removes last.
// BTRFS_IOC_SUBVOL_SYNC_WAIT would wait in the kernel, but only from
// Linux 6.13; the hosts run 6.1.

const (
	iocSync     = 0x00009408 // _IO(0x94, 8): BTRFS_IOC_SYNC
	rootItemKey = 132        // BTRFS_ROOT_ITEM_KEY: (subvolume, ROOT_ITEM, transid) → its root

	// maxDeleted bounds the ids the store remembers between Settles:
	// a store whose caller never settles keeps the newest. A subvolume
	// deleted that many deletions ago has long been cleaned (the
	// cleaner runs every commit interval), or is held by an open file,
	// and then no wait would help.
	maxDeleted = 4096

	settlePoll = 50 * time.Millisecond // how often Settle looks for the ROOT_ITEMs
	settleWake = 20                    // polls between two wake-ups of the cleaner
)

var _ store.Settler = (*Store)(nil)

// Settle waits, bounded by ctx, until btrfs has dropped every subvolume
// Delete destroyed since the last Settle (the snapshots and those their
// jobs made inside them) and committed it, so that Usage counts the
// space they gave back. It wakes the cleaner (BTRFS_IOC_SYNC, which
// commits the running transaction first, writing back dirty data of
// the whole filesystem), polls the root tree for the subvolumes'
// ROOT_ITEMs, waking the cleaner again now and then (a subvolume whose
// last file was open when it was deleted reaches the cleaner only once
// closed), and then syncs the filesystem (syncfs). Subvolumes not
// dropped when ctx ends are not waited for again: their space comes
// back by itself, later.
func (s *Store) Settle(ctx context.Context) error {
	s.mu.Lock()
	ids := s.deleted
	s.deleted = nil
	s.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	what := fmt.Sprintf("wait for btrfs to free the space of %d deleted subvolumes on the filesystem of %s", len(ids), s.dir)
	d, err := os.OpenFile(s.dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer d.Close()
	for polls := 0; ; polls++ {
		if polls%settleWake == 0 {
			if err := s.blocking(ctx, wakeCleaner); err != nil {
				return fmt.Errorf("%s: wake the btrfs cleaner: %w", what, err)
			}
		}
		left := ids[:0]
		for _, id := range ids {
			gone, err := cleaned(d, id)
			if err != nil {
				return fmt.Errorf("%s: look up subvolume %d: %w", what, id, err)
			}
			if !gone {
				left = append(left, id)
			}
		}
		if ids = left; len(ids) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %d of them not dropped yet: %w", what, len(ids), ctx.Err())
		case <-time.After(settlePoll):
		}
	}
	// The cleaner's last transaction freed the subvolumes' extents;
	// they are free for statfs once it is committed.
	if err := s.blocking(ctx, unix.Syncfs); err != nil {
		return fmt.Errorf("%s: syncfs: %w", what, err)
	}
	return nil
}

// remember records that Delete destroyed subvolume id, for Settle.
func (s *Store) remember(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.deleted) >= maxDeleted {
		s.deleted = append(s.deleted[:0], s.deleted[len(s.deleted)-maxDeleted+1:]...)
	}
	s.deleted = append(s.deleted, id)
}

// cleaned reports whether btrfs has dropped subvolume id: its ROOT_ITEM
// is gone from the root tree.
func cleaned(fsDir *os.File, id uint64) (bool, error) {
	key := searchKey{
		treeID:      rootTreeObjectID,
		minObjectID: id, maxObjectID: id,
		minType: rootItemKey, maxType: rootItemKey,
		maxOffset: math.MaxUint64, maxTransID: math.MaxUint64,
	}
	found := false
	err := treeSearch(fsDir, key, func(objectID uint64, typ uint32, _ uint64, _ []byte) error {
		if objectID == id && typ == rootItemKey {
			found = true
			return errFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return false, err
	}
	return !found, nil
}

var errFound = errors.New("found")

// wakeCleaner commits the running transaction of the filesystem open as
// fd and wakes the transaction thread, which wakes the cleaner
// (BTRFS_IOC_SYNC; `btrfs filesystem sync`).
func wakeCleaner(fd int) error {
	return ioctl(uintptr(fd), iocSync, unsafe.Pointer(nil))
}

// blocking runs fn on a descriptor of the store's directory of its own,
// and returns its error, or ctx's when ctx ends first: a sync writes
// back the whole filesystem's dirty data, which no signal interrupts, so
// fn goes on alone then, and closes its descriptor when done.
func (s *Store) blocking(ctx context.Context, fn func(fd int) error) error {
	fd, err := unix.Open(s.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		defer unix.Close(fd)
		done <- fn(fd)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
