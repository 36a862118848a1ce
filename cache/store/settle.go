package store

import "context"

// Settler is implemented by a store whose deletions free space only
// later. Settle waits, bounded by ctx, until the space the snapshots
// deleted so far gave back is counted in Usage.
//
// btrfs drops a deleted subvolume in the background (its cleaner
// thread), up to a commit interval later: until then Usage reads as if
// nothing was deleted, and retention, which deletes one snapshot at a
// time when their sizes are unknown, would go on deleting every sealed
// cache. The agent calls Settle after it deleted for space and before
// it reads Usage again. A store that frees at once (LVM thin volumes)
// does not implement it.
type Settler interface {
	// Settle returns once the space of the snapshots Delete removed
	// before the call is counted in Usage, or with ctx's error when ctx
	// ends first (what was not freed yet then is not waited for again:
	// it comes back by itself, later).
	Settle(ctx context.Context) error
}
