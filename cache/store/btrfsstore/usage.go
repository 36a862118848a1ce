package btrfsstore

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
)

// Usage reads statfs(2) of the filesystem: DataPercent is the share of
// space used, as df counts it (used / (used + available to root)), so it
// covers data and metadata together, which btrfs allocates from one
// device space. MetadataPercent is 0: btrfs has no fixed metadata area
// to fill, and reading its chunk allocation (btrfs filesystem usage)
// would cost a command per request for a figure the data watermarks
// already bound.
func (s *Store) Usage(ctx context.Context) (store.Usage, error) {
	if err := ctx.Err(); err != nil {
		return store.Usage{}, err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(s.dir, &st); err != nil {
		return store.Usage{}, fmt.Errorf("read the cache filesystem's usage at %s: %w", s.dir, err)
	}
	return usageOf(st), nil
}

func usageOf(st unix.Statfs_t) store.Usage {
	bs := uint64(st.Bsize)
	used := (st.Blocks - st.Bfree) * bs
	avail := st.Bavail * bs
	u := store.Usage{DataBytes: int64(st.Blocks * bs)}
	if used+avail > 0 {
		u.DataPercent = float64(used) / float64(used+avail) * 100
	}
	return u
}

// noRoom reports whether err is the filesystem (or a quota) refusing room.
func noRoom(err error) bool {
	return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT)
}

// full returns err, or, when it says there is no room, a *store.FullError
// naming the filesystem and carrying its use read now, so that the agent
// can tell a job the store is full instead of that it failed.
func (s *Store) full(err error) error {
	if err == nil || !noRoom(err) {
		return err
	}
	fe := &store.FullError{Store: s.Describe(), Err: err}
	if u, uerr := s.Usage(context.Background()); uerr == nil {
		fe.Usage = &u
	}
	return fe
}
