package lvmstore

import (
	"context"
	"fmt"
	"math"
	"sync"
)

// What the store knows of the pool between reports: see "Sizes" in the
// package doc for why a snapshot's size needs its origin's mapped bytes
// and where they come from.

// learned is what the store keeps from its last reports.
type learned struct {
	mu sync.Mutex
	// pool is the default volume's thin pool (its LV name), "" until a
	// report showed it: Describe names it.
	pool string
	// mapped is the bytes the default volume and each sealed snapshot
	// mapped at the last List (and each snapshot sealed or saved since),
	// so that Create can record its origin's in the new snapshot's
	// NS:base tag without running lvs on the mount's path. Neither
	// changes: a sealed snapshot is never written, and the store never
	// writes to the default volume.
	mapped map[string]int64
}

func (l *learned) setPool(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pool = name
}

func (l *learned) poolName() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pool
}

// setMapped replaces what List learned.
func (l *learned) setMapped(m map[string]int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mapped = m
}

// addMapped records one snapshot's mapped bytes (sealed or saved now).
func (l *learned) addMapped(name string, n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mapped == nil {
		l.mapped = map[string]int64{}
	}
	l.mapped[name] = n
}

func (l *learned) mappedOf(name string) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.mapped[name]
	return n, ok
}

// liveMapped is what the thin volume of row x maps in its pool, in
// bytes, from its data use (data_percent of lv_size), when the report
// has one: only for an active thin volume.
func (x *row) liveMapped() (int64, bool) {
	if x.DataPercent < 0 {
		return 0, false
	}
	return int64(math.Round(x.DataPercent / 100 * float64(x.Size))), true
}

// mappedNow reads what snapshot name maps now, with one lvs: Copy and
// SetState(Sealed) record it in a tag while the snapshot is still active.
// It also returns the snapshot's row, for its tags. Without a data use
// (the snapshot is inactive already: a seal retried after its
// deactivation) it returns -1.
func (s *Store) mappedNow(ctx context.Context, name string) (int64, row, error) {
	rows, err := s.report(ctx, s.id(name))
	if err != nil {
		return 0, row{}, err
	}
	for _, x := range rows {
		if x.VG == s.vg && x.Name == name {
			if n, ok := x.liveMapped(); ok {
				return n, x, nil
			}
			return -1, x, nil
		}
	}
	return 0, row{}, fmt.Errorf("lvs reported %d LVs, none of them %s", len(rows), s.id(name))
}

// sizer computes the Size of snapshots from one report.
type sizer struct {
	// mapped is what each LV of the volume group maps, where known: the
	// report's data use of an active thin volume, else a sealed
	// snapshot's NS:mapped tag.
	mapped map[string]int64
}

// size is the Size of a snapshot: what it maps beyond its origin,
// clamped at 0, or 0 when either figure is unknown. The origin's figure
// is the NS:base tag, written when the snapshot was made, or else what
// the origin maps now, if LVM still names it.
func (z sizer) size(name, origin string, p parsedTags) int64 {
	m, ok := z.mapped[name]
	if !ok {
		return 0
	}
	base := p.base
	if base < 0 && origin != "" {
		if b, known := z.mapped[origin]; known {
			base = b
		}
	}
	if base < 0 {
		return 0
	}
	return max(m-base, 0)
}
