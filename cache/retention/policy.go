package retention

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/rigplan/rigplan/cache/store"
)

// Policy is the retention configuration. Zero values switch a rule off.
type Policy struct {
	// KeepPerSet keeps the newest N sealed snapshots of each distinct
	// annotation set and deletes older ones; 0 keeps all.
	KeepPerSet int
	// MaxAge deletes sealed snapshots created longer ago; 0 keeps all.
	MaxAge time.Duration
	// DataHigh and DataLow are the pool's data watermarks in percent:
	// above High the agent deletes oldest first until under Low, and
	// refuses new snapshots while it cannot get under High. High 0
	// switches the watermark off.
	DataHigh, DataLow float64
	// MetadataHigh and MetadataLow are the same for thin-pool metadata.
	MetadataHigh, MetadataLow float64
}

// Validate checks the policy's numbers.
func (p Policy) Validate() error {
	var errs []error
	if p.KeepPerSet < 0 {
		errs = append(errs, fmt.Errorf("keep per set is %d: want 0 (keep all) or more", p.KeepPerSet))
	}
	if p.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("max age is %v: want 0 (no limit) or more", p.MaxAge))
	}
	check := func(what string, high, low float64) {
		switch {
		case high == 0 && low == 0:
		case high <= 0 || high > 100:
			errs = append(errs, fmt.Errorf("%s high watermark is %g%%: want more than 0 and at most 100", what, high))
		case low < 0 || low >= high:
			errs = append(errs, fmt.Errorf("%s low watermark is %g%%: want at least 0 and below the high watermark %g%%", what, low, high))
		}
	}
	check("data", p.DataHigh, p.DataLow)
	check("metadata", p.MetadataHigh, p.MetadataLow)
	return errors.Join(errs...)
}

// OverHigh reports whether usage is above a high watermark: time to free
// space, and, if that fails, to refuse new snapshots.
func (p Policy) OverHigh(u store.Usage) bool {
	return p.DataHigh > 0 && u.DataPercent > p.DataHigh || p.MetadataHigh > 0 && u.MetadataPercent > p.MetadataHigh
}

// OverLow reports whether usage is above a low watermark: space GC, once
// started, goes on.
func (p Policy) OverLow(u store.Usage) bool {
	return p.DataHigh > 0 && u.DataPercent > p.DataLow || p.MetadataHigh > 0 && u.MetadataPercent > p.MetadataLow
}

// Rule names the rule behind a deletion, for machine-readable output.
type Rule string

// The rules.
const (
	RulePending    Rule = "pending"
	RuleMaxAge     Rule = "max-age"
	RuleKeepPerSet Rule = "keep-per-set"
	RuleSpace      Rule = "space"
)

// Deletion is one snapshot to delete and why.
type Deletion struct {
	Snapshot store.Snapshot
	Rule     Rule
	// Reason is a sentence for an operator.
	Reason string
}

// Held is the set of snapshot names the agent is using now: mounted in a
// live machine, being created or copied, or being snapshotted as an
// origin. Retention never deletes them.
type Held map[string]bool

// older orders snapshots oldest first; ties on time go to the name that
// sorts first (the matcher prefers the name that sorts last).
func older(a, b store.Snapshot) int {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}
