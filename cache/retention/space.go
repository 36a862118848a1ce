package retention

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rigplan/rigplan/cache/store"
)

// NextForSpace returns the next snapshots to delete to bring usage u
// under the low watermarks, or nil when it is under them or nothing more
// may be deleted. Candidates go oldest first, pending ones nobody holds
// before sealed ones. The agent calls it only once p.OverHigh(u) (see the
// package doc), deletes the batch, and calls again with fresh usage.
func NextForSpace(p Policy, snaps []store.Snapshot, held Held, u store.Usage) []Deletion {
	if !p.OverLow(u) {
		return nil
	}
	var cands []store.Snapshot
	for _, sn := range snaps {
		if deletable(&sn, held) {
			cands = append(cands, sn)
		}
	}
	slices.SortFunc(cands, func(a, b store.Snapshot) int {
		if pa, pb := a.State == store.Pending, b.State == store.Pending; pa != pb {
			if pa {
				return -1
			}
			return 1
		}
		return older(a, b)
	})
	reason := spaceReason(p, u)
	// Only the data figure can be projected, and only from known sizes:
	// what a deletion does to thin-pool metadata is never known.
	project := u.DataBytes > 0 && !(p.MetadataHigh > 0 && u.MetadataPercent > p.MetadataLow)
	proj := u
	var out []Deletion
	for _, sn := range cands {
		out = append(out, Deletion{Snapshot: sn, Rule: RuleSpace, Reason: reason})
		if !project || sn.Size <= 0 {
			break // delete it, then read the usage again
		}
		proj.DataPercent -= float64(sn.Size) / float64(u.DataBytes) * 100
		if !p.OverLow(proj) {
			break
		}
	}
	return out
}

// spaceReason says which watermark is exceeded.
func spaceReason(p Policy, u store.Usage) string {
	var over []string
	if p.DataHigh > 0 && u.DataPercent > p.DataLow {
		over = append(over, fmt.Sprintf("data %.1f%% (watermarks %g%%/%g%%)", u.DataPercent, p.DataHigh, p.DataLow))
	}
	if p.MetadataHigh > 0 && u.MetadataPercent > p.MetadataLow {
		over = append(over, fmt.Sprintf("metadata %.1f%% (watermarks %g%%/%g%%)", u.MetadataPercent, p.MetadataHigh, p.MetadataLow))
	}
	return "the store is too full: " + strings.Join(over, ", ") + "; deleting oldest first until under the low watermark"
}
