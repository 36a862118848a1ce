package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/retention"
	"github.com/rigplan/rigplan/cache/store"
)

// The agent's use of package retention: what it may delete (everything
// but what it holds), in which order, and when the store is too full for
// a new snapshot.

// retentionView returns the store's snapshots as the agent knows them;
// the ones retention must leave alone: those being made, copied, saved,
// deleted or finished, pinned as origins, or mounted in a live machine;
// and the unfinished ones: in use in the store, their machine gone, not
// sealed or discarded yet, which space retention may delete.
func (a *Agent) retentionView() ([]store.Snapshot, retention.Held, map[string]bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	snaps := make([]store.Snapshot, 0, len(a.snaps))
	held := retention.Held{}
	unfinished := map[string]bool{}
	for name, e := range a.snaps {
		snaps = append(snaps, e.snap)
		switch {
		case e.op != "" || e.pins > 0:
			held[name] = true
		case e.finish:
			unfinished[name] = true
		case e.inUse():
			held[name] = true
		}
	}
	return snaps, held, unfinished
}

// collect runs retention once: it brings the view in line with the store,
// deletes what the rules call for (retention.Plan), then, while the store
// is over a high watermark, the oldest snapshots until it is under the
// low ones (retention.NextForSpace). With dryRun it deletes nothing and
// lists what Plan would delete and, when over a high watermark, the first
// batch for space. One run at a time.
func (a *Agent) collect(ctx context.Context, dryRun bool) (protocol.GCResult, error) {
	a.gcMu.Lock()
	defer a.gcMu.Unlock()
	res := protocol.GCResult{DryRun: dryRun}
	if err := a.reconcile(ctx); err != nil {
		return res, err
	}
	p := a.cfg.Retention
	snaps, held, _ := a.retentionView()
	for _, d := range retention.Plan(p, snaps, held, a.now()) {
		a.delete(ctx, d, dryRun, &res)
	}
	u, err := a.store.Usage(ctx)
	if err != nil {
		return res, fmt.Errorf("read the store's usage: %w", err)
	}
	if !p.OverHigh(u) {
		return res, nil
	}
	if !dryRun {
		// What was deleted since the last pass (by Plan just now, by an
		// operator's rm, by an unsaved snapshot's discard) may not be
		// counted yet: space retention would delete for space that is on
		// its way back.
		a.settle(ctx)
		if u, err = a.store.Usage(ctx); err != nil {
			return res, fmt.Errorf("read the store's usage: %w", err)
		}
		if !p.OverHigh(u) {
			return res, nil
		}
	}
	failed := map[string]bool{}
	for {
		snaps, held, unfinished := a.retentionView()
		for n := range failed {
			held[n] = true // never offered again in this run
		}
		batch := retention.NextForSpace(p, snaps, held, retention.Space{Usage: u, Unfinished: unfinished})
		if len(batch) == 0 {
			return res, nil
		}
		deleted := false
		for _, d := range batch {
			if a.delete(ctx, d, dryRun, &res) {
				deleted = true
			} else {
				failed[d.Snapshot.Name] = true
			}
		}
		if dryRun {
			return res, nil
		}
		if deleted {
			a.settle(ctx)
		}
		if u, err = a.store.Usage(ctx); err != nil {
			return res, fmt.Errorf("read the store's usage: %w", err)
		}
	}
}

// settleWait bounds how long retention waits for a store to count the
// space its deletions gave back: a mount request may be waiting on the
// pass (ensureSpace).
const settleWait = 30 * time.Second

// settle waits, up to settleWait, until the store counts the space of
// what retention deleted in Usage, when the store frees space only later
// (store.Settler: btrfs). Without it, retention would read the use of
// before the deletions, find the store as full, and delete more than
// needed, every sealed cache at worst. When the wait ends first,
// retention goes on with the use it reads: what was deleted then may be
// deleted for again.
func (a *Agent) settle(ctx context.Context) {
	st, ok := a.store.(store.Settler)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, settleWait)
	defer cancel()
	if err := st.Settle(ctx); err != nil {
		a.log.Warn("retention: the store did not count the space of the deleted snapshots in time; going on with the use it reports", "wait", settleWait, "err", err)
	}
}

// delete deletes one snapshot retention chose, recording the outcome in
// res; it reports whether the snapshot went (or, in a dry run, would).
func (a *Agent) delete(ctx context.Context, d retention.Deletion, dryRun bool, res *protocol.GCResult) bool {
	name := d.Snapshot.Name
	if dryRun {
		res.Deleted = append(res.Deleted, protocol.Deletion{Name: name, Reason: d.Reason})
		return true
	}
	if !a.holdForDelete(name) {
		res.Kept = append(res.Kept, protocol.Deletion{Name: name, Reason: "in use or busy since retention chose it; tried again next time"})
		return false
	}
	if err := a.store.Delete(ctx, name); err != nil && !errors.Is(err, store.ErrNotFound) {
		a.release(name)
		a.log.Error("retention: deleting a snapshot failed", "snapshot", name, "err", err)
		res.Kept = append(res.Kept, protocol.Deletion{Name: name, Reason: "the store could not delete it (see the agent's log); tried again next time"})
		return false
	}
	a.forget(name)
	a.mu.Lock()
	a.stats.gcDeleted++
	a.mu.Unlock()
	a.log.Info("retention: deleted", "snapshot", name, "rule", string(d.Rule), "reason", d.Reason)
	res.Deleted = append(res.Deleted, protocol.Deletion{Name: name, Reason: d.Reason})
	return true
}

// overHigh says which high watermark usage u is over, for the refusal of
// a create.
func overHigh(p retention.Policy, u store.Usage) string {
	var over []string
	if p.DataHigh > 0 && u.DataPercent > p.DataHigh {
		over = append(over, fmt.Sprintf("data use %.1f%% is over the high watermark of %g%%", u.DataPercent, p.DataHigh))
	}
	if p.MetadataHigh > 0 && u.MetadataPercent > p.MetadataHigh {
		over = append(over, fmt.Sprintf("metadata use %.1f%% is over the high watermark of %g%%", u.MetadataPercent, p.MetadataHigh))
	}
	return strings.Join(over, ", ")
}
