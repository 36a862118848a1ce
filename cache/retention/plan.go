package retention

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rigplan/rigplan/cache/store"
)

// Plan returns the deletions the pending, max-age and keep-per-set rules
// call for, oldest first, each snapshot at most once (the first rule
// that applies, in that order, gives the reason).
func Plan(p Policy, snaps []store.Snapshot, held Held, now time.Time) []Deletion {
	var out []Deletion
	doomed := map[string]bool{}
	add := func(sn store.Snapshot, r Rule, reason string) {
		if !doomed[sn.Name] {
			doomed[sn.Name] = true
			out = append(out, Deletion{Snapshot: sn, Rule: r, Reason: reason})
		}
	}
	sets := map[string][]store.Snapshot{}
	for _, sn := range snaps {
		if sn.Default {
			continue
		}
		switch {
		case sn.State == store.Pending && !held[sn.Name]:
			add(sn, RulePending, "pending, and no request of this agent is making it: a create or copy was interrupted")
		case sn.State == store.Sealed:
			if p.MaxAge > 0 && now.Sub(sn.Created) > p.MaxAge && !held[sn.Name] {
				add(sn, RuleMaxAge, fmt.Sprintf("created %s, %s ago, over the maximum age of %s",
					sn.Created.UTC().Format(time.RFC3339), now.Sub(sn.Created).Round(time.Second), p.MaxAge))
			}
			k := setKey(sn.Annotations)
			sets[k] = append(sets[k], sn)
		}
	}
	if p.KeepPerSet > 0 {
		for _, set := range sets {
			if len(set) <= p.KeepPerSet {
				continue
			}
			// Newest first; those past the first N go, unless held (a
			// held one still takes its place among the N).
			slices.SortFunc(set, func(a, b store.Snapshot) int { return older(b, a) })
			for _, sn := range set[p.KeepPerSet:] {
				if held[sn.Name] {
					continue
				}
				add(sn, RuleKeepPerSet, fmt.Sprintf("%d newer sealed snapshots have the same annotations %s (keep per set: %d)",
					p.KeepPerSet, showSet(sn.Annotations), p.KeepPerSet))
			}
		}
	}
	slices.SortFunc(out, func(a, b Deletion) int { return older(a.Snapshot, b.Snapshot) })
	return out
}

// setKey identifies an annotation set: order and repeats do not matter.
// Terms hold no control characters (the protocol refuses them), so NUL
// separates them unambiguously.
func setKey(annotations []string) string {
	s := slices.Clone(annotations)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), "\x00")
}

func showSet(annotations []string) string {
	s := slices.Clone(annotations)
	slices.Sort(s)
	s = slices.Compact(s)
	if len(s) == 0 {
		return "{} (none)"
	}
	return "{" + strings.Join(s, " ") + "}"
}
