// Package retention decides which cache snapshots the agent deletes: the
// answer to "disks fill up because no cache is ever deleted". It is pure:
// it sees what store.Store.List and Usage returned, and the names the
// agent is using, and returns deletions, each with the rule and a reason
// an operator can read (`rigplan cache gc --dry-run` prints them).
//
// Two entry points, because the two kinds of rule need different loops:
//
//   - Plan applies the rules that depend only on the snapshots: pending
//     snapshots nobody is making (left by a crash), a maximum age, and
//     the newest N per annotation set. One call gives the whole answer.
//   - NextForSpace applies the pool watermarks. How much a deletion frees
//     is rarely known beforehand (thin snapshots and btrfs subvolumes
//     share blocks with each other), so it returns the next batch, oldest
//     first, and the agent deletes it, reads Usage again and asks again.
//
// The agent's loop, with hysteresis: it starts above a high watermark and
// goes on until under the low ones.
//
//	if p.OverHigh(u) {
//		for {
//			batch := retention.NextForSpace(p, snaps, held, retention.Space{Usage: u, Unfinished: unfinished})
//			if len(batch) == 0 {
//				break // under the low watermarks, or nothing left to delete
//			}
//			// delete batch, drop it from snaps; when the store is a
//			// store.Settler (btrfs), Settle; then u = store.Usage()
//		}
//	}
//	if p.OverHigh(u) {
//		// refuse new snapshots rather than let thin-pool writes fail
//	}
//
// A batch holds more than one snapshot only when their sizes are known
// (store.Snapshot.Size) and the data watermark alone is exceeded: then the
// projection says how many must go. Otherwise it holds one. A dry run
// shows Plan's deletions and, when over a high watermark, the first batch.
//
// A full store is often not the sealed caches' doing: a job writing into
// its cache holds space that deleting every sealed cache would not give
// back. NextForSpace therefore deletes sealed snapshots only for the part
// of the data excess they hold: the use less the sizes of the snapshots
// in use (store.Snapshot.Size, where the store knows it: btrfs with
// quotas). Snapshots whose machine is gone but that could not be sealed
// or discarded (Space.Unfinished) go first.
//
// Never deleted, by any rule: the default volume; a snapshot in state
// in-use while its machine runs (the agent seals or discards it by its
// commit policy when its machine is gone, which is not retention's call;
// only the unfinished ones are space retention's); and any snapshot the
// agent holds (Held). A pending snapshot not held is garbage.
package retention
