package btrfsstore

import (
	"context"
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
