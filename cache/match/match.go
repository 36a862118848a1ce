// Package match decides which earlier cache a mount request copies.
//
// A mount request lists criteria, each a list of terms, in order of
// preference; every snapshot carries a set of annotation terms. The rules,
// from the original lvm-cache-friend setup, made explicit:
//
//   - A criterion matches a snapshot when every one of its terms is among
//     the snapshot's annotations, in any order. An empty criterion matches
//     every eligible snapshot.
//   - Criteria are tried in order; the first one that matches any eligible
//     snapshot decides, and later ones are not looked at.
//   - Only sealed snapshots that are not in use are eligible: a snapshot
//     mounted in a live machine is still being written, so copying it would
//     copy a cache in a half-written state.
//   - Among the snapshots the deciding criterion matches, the newest wins;
//     a tie on creation time goes to the name that sorts last.
//   - When nothing matches, the caller copies the default volume.
//
// The package is pure: it sees candidates, never LVM or btrfs.
package match

import (
	"maps"
	"slices"
	"time"
)

// Candidate is a snapshot as matching sees it.
type Candidate struct {
	// Name identifies the snapshot to the store (an LV or subvolume name).
	Name string
	// Annotations are the terms the snapshot was annotated with.
	Annotations Terms
	// Created orders candidates: the newest match is the freshest cache.
	Created time.Time
	// Sealed reports that the snapshot's writer is done with it (its
	// machine exited, or the job sent save), so it is a consistent cache.
	Sealed bool
	// InUse reports that the snapshot is mounted in a live machine.
	InUse bool
}

// Eligible reports whether c may be copied at all: sealed, and not in use.
func (c Candidate) Eligible() bool {
	return c.Sealed && !c.InUse
}

// newerThan orders candidates: later Created first, then the name that
// sorts last. LVM records creation times to the second, so two snapshots
// made in the same second are common. The name makes the choice
// deterministic; a store that names snapshots in creation order (a
// sequence or timestamp) thereby gets the later one.
func (c *Candidate) newerThan(o *Candidate) bool {
	if !c.Created.Equal(o.Created) {
		return c.Created.After(o.Created)
	}
	return c.Name > o.Name
}

// Match returns the candidate a mount with these criteria copies, and the
// index of the criterion that chose it. ok is false when no criterion
// matches an eligible candidate (or there are no criteria): the caller
// then copies the default volume.
//
// Match makes one pass over the candidates. For each eligible one it tries
// only the criteria up to the best found so far, since a match on a later
// criterion can never win, so a common request with a good first criterion
// costs one set lookup or so per candidate.
func Match(criteria [][]string, candidates []Candidate) (c Candidate, criterion int, ok bool) {
	best, bestCriterion := -1, len(criteria)
	for i := range candidates {
		cand := &candidates[i]
		if !cand.Eligible() {
			continue
		}
		for k := 0; k <= bestCriterion && k < len(criteria); k++ {
			if !cand.Annotations.HasAll(criteria[k]) {
				continue
			}
			// k is the first criterion cand matches.
			if k < bestCriterion || cand.newerThan(&candidates[best]) {
				best, bestCriterion = i, k
			}
			break
		}
	}
	if best < 0 {
		return Candidate{}, -1, false
	}
	return candidates[best], bestCriterion, true
}

// Terms is a set of annotation terms. A snapshot's annotations are a set,
// not a list: order does not matter for matching, and repeating a term on
// a "<" line means nothing more.
//
// Terms are opaque strings compared byte for byte, without case folding or
// Unicode normalisation, as LVM compares tags. A store that keeps them
// in an encoded form (LVM tags, via internal/lvmtag.EncodeTerm) must encode
// the criteria the same way before matching; since that encoding is
// one-to-one, matching gives the same answer either way.
type Terms map[string]struct{}

// NewTerms returns the set of the given terms.
func NewTerms(terms ...string) Terms {
	set := make(Terms, len(terms))
	for _, t := range terms {
		set[t] = struct{}{}
	}
	return set
}

// Has reports whether term is in the set.
func (s Terms) Has(term string) bool {
	_, ok := s[term]
	return ok
}

// HasAll reports whether every one of terms is in the set: the test of
// one criterion. It is true for no terms at all, which is why an empty
// criterion matches any eligible snapshot.
func (s Terms) HasAll(terms []string) bool {
	for _, t := range terms {
		if _, ok := s[t]; !ok {
			return false
		}
	}
	return true
}

// Sorted returns the terms in byte order, for output that must not change
// from run to run (ls, logs, tests).
func (s Terms) Sorted() []string {
	return slices.Sorted(maps.Keys(s))
}
