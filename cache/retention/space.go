package retention

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rigplan/rigplan/cache/store"
)

// Space is the store's use as space retention weighs it.
type Space struct {
	store.Usage
	// Unfinished names snapshots in state in-use whose machine is gone
	// but that could not be sealed or discarded yet: they hold space no
	// job uses, and go before any sealed snapshot.
	Unfinished map[string]bool
}

// NextForSpace returns the next snapshots to delete to bring the store's
// use under the low watermarks, or nil when it is under them or nothing
// more may be deleted. The agent calls it only once p.OverHigh(s.Usage)
// (see the package doc), deletes the batch, and calls again with fresh
// usage.
//
// Candidates go in this order: pending snapshots nobody holds, then
// unfinished ones, then sealed ones, each oldest first. Sealed snapshots
// go only for the part of the data excess they can answer for: space
// that snapshots in use hold (their Size, when the store knows it) is no
// sealed cache's fault, and deleting every cache would not give it
// back. When that part is under the low watermark, the sealed caches
// stay and the agent refuses new snapshots instead, until the jobs
// holding the space are done.
func NextForSpace(p Policy, snaps []store.Snapshot, held Held, s Space) []Deletion {
	u := s.Usage
	if !p.OverLow(u) {
		return nil
	}
	var cands []store.Snapshot
	var inUse int64 // bytes the snapshots in use hold, where known
	for _, sn := range snaps {
		if sn.State == store.InUse && !sn.Default {
			inUse += max(sn.Size, 0)
		}
		if !sn.Default && !held[sn.Name] && (sn.State != store.InUse || s.Unfinished[sn.Name]) {
			cands = append(cands, sn)
		}
	}
	rank := func(sn store.Snapshot) int {
		switch sn.State {
		case store.Pending:
			return 0
		case store.InUse:
			return 1
		}
		return 2
	}
	slices.SortFunc(cands, func(a, b store.Snapshot) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return older(a, b)
	})
	pct := func(b int64) float64 {
		if u.DataBytes <= 0 {
			return 0
		}
		return float64(b) / float64(u.DataBytes) * 100
	}
	metadataOver := p.MetadataHigh > 0 && u.MetadataPercent > p.MetadataLow
	proj := u
	overLow := func() bool { return p.OverLow(proj) }
	// sealedMayGo: what sealed snapshots do for the excess. Metadata use
	// cannot be told apart by snapshot: any snapshot may give it back.
	sealedMayGo := func() bool {
		return metadataOver || p.DataHigh > 0 && proj.DataPercent-pct(inUse) > p.DataLow
	}
	// Only the data figure can be projected, and only from sizes known
	// to be whole: what a deletion does to thin-pool metadata is never
	// known, and a lower bound could make one batch delete more than the
	// excess needs.
	project := u.DataBytes > 0 && !u.SizesLowerBound && !metadataOver
	reason := spaceReason(p, u)
	var out []Deletion
	for _, sn := range cands {
		if sn.State == store.Sealed && !sealedMayGo() {
			break
		}
		why := reason
		if sn.State == store.InUse {
			why += " (its machine is gone and it could not be sealed or discarded)"
		}
		out = append(out, Deletion{Snapshot: sn, Rule: RuleSpace, Reason: why})
		if !project || sn.Size <= 0 {
			break // delete it, then read the usage again
		}
		proj.DataPercent -= pct(sn.Size)
		if sn.State == store.InUse {
			inUse -= sn.Size
		}
		if !overLow() {
			break
		}
	}
	return out
}

// HeldByInUse reports the share of the data space, in percent, that
// snapshots in use hold where the store knows their sizes: the part of
// a full store that deleting sealed caches cannot give back.
func HeldByInUse(snaps []store.Snapshot, u store.Usage) float64 {
	if u.DataBytes <= 0 {
		return 0
	}
	var b int64
	for _, sn := range snaps {
		if sn.State == store.InUse && !sn.Default {
			b += max(sn.Size, 0)
		}
	}
	return float64(b) / float64(u.DataBytes) * 100
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
