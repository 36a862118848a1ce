package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/retention"
	"github.com/rigplan/rigplan/cache/store"
)

// holdForDelete holds a snapshot for deletion if it may still be deleted.
func (a *Agent) holdForDelete(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.snaps[name]
	if !ok || e.snap.Default || e.pins > 0 || e.inUse() && !e.finish {
		return false
	}
	return e.hold("delete")
}

// reconcile brings the view in line with the store: snapshots that went
// away (an operator removed them by hand) are dropped, whatever their
// state; snapshots the view lacks are added, so that retention sees
// left-overs; the sizes the store reports are taken over.
//
// The store is read without the agent's lock, so requests go on
// meanwhile, and what it read may be older than the view: a snapshot the
// agent deleted after the read would come back, one it was making would
// be dropped. So while the read runs, every name the view adds or
// removes is recorded (touch), and reconcile leaves those entries as the
// view has them; and it drops only snapshots that no operation held when
// the read began (a mount under way may make its snapshot after the read,
// and be done before the merge). Runs one at a time (collect's gcMu).
func (a *Agent) reconcile(ctx context.Context) error {
	a.mu.Lock()
	a.touched = map[string]bool{}
	idle := make(map[string]bool, len(a.snaps))
	for name, e := range a.snaps {
		if e.op == "" {
			idle[name] = true
		}
	}
	a.mu.Unlock()
	snaps, err := a.store.List(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	touched := a.touched
	a.touched = nil
	if err != nil {
		return fmt.Errorf("read the store: %w", err)
	}
	listed := make(map[string]bool, len(snaps))
	for _, s := range snaps {
		listed[s.Name] = true
		if touched[s.Name] {
			continue
		}
		if e, ok := a.snaps[s.Name]; ok {
			e.snap.Size = s.Size
			continue
		}
		e := &entry{snap: s}
		// An in-use snapshot this agent does not know is in no machine
		// it watches: finish it once nothing holds it.
		e.finish = s.State == store.InUse
		a.snaps[s.Name] = e
		a.log.Info("found a snapshot the agent did not know", "snapshot", s.Name, "state", string(s.State))
	}
	for name, e := range a.snaps {
		if !listed[name] && !touched[name] && idle[name] && e.op == "" && !e.snap.Default {
			a.log.Warn("a snapshot went away from the store behind the agent's back; forgetting it", "snapshot", name, "state", string(e.snap.State))
			a.remove(name)
		}
	}
	return nil
}

// ensureSpace runs retention before a create when the store is over a
// high watermark, and refuses the create if it is still over: a full
// thin pool fails every write of every job, which is far worse than one
// job without a cache.
func (a *Agent) ensureSpace(ctx context.Context, c *call) *protocol.Response {
	u, err := a.store.Usage(ctx)
	if err != nil {
		return c.internal("reading the store's usage", err)
	}
	if !a.cfg.Retention.OverHigh(u) {
		return nil
	}
	c.log.Warn("the store is over its high watermark; running retention before the create", "data_percent", u.DataPercent, "metadata_percent", u.MetadataPercent)
	if _, err := a.collect(ctx, false); err != nil {
		c.log.Error("retention before a create failed", "err", err)
	}
	if u, err = a.store.Usage(ctx); err != nil {
		return c.internal("reading the store's usage", err)
	}
	if a.cfg.Retention.OverHigh(u) {
		snaps, _, _ := a.retentionView()
		held := ""
		if pct := retention.HeldByInUse(snaps, u); pct >= 0.1 {
			held = fmt.Sprintf("; %.1f%% of the store is held by caches in use, which their jobs give back when they end", pct)
		}
		a.mu.Lock()
		a.stats.refusedFull++
		a.mu.Unlock()
		return protocol.Fail(fmt.Sprintf("the cache store (%s) is too full for a new snapshot (%s%s) and retention could not free enough; no snapshot was made and the job runs without this cache; the host's operator can free space (rigplan cache gc, rigplan cache rm) or grow the store", a.store.Describe(), overHigh(a.cfg.Retention, u), held))
	}
	return nil
}

// periodic runs the periodic pass every RetentionInterval: snapshots
// whose machine is gone are finished, and retention runs.
func (a *Agent) periodic(ctx context.Context) {
	defer a.bg.Done()
	t := time.NewTicker(a.cfg.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.finishPending(ctx)
		if res, err := a.collect(ctx, false); err != nil {
			a.log.Error("periodic retention failed", "err", err)
		} else if len(res.Deleted)+len(res.Kept) > 0 {
			a.log.Info("periodic retention", "deleted", len(res.Deleted), "kept", len(res.Kept))
		}
		a.sendNotify("STATUS=" + a.status())
	}
}

// gcResponse serves `gc [dry-run]`.
func (a *Agent) gcResponse(ctx context.Context, c *call, dryRun bool) *protocol.Response {
	res, err := a.collect(ctx, dryRun)
	if err != nil {
		return c.internal("running retention", err)
	}
	return res.Response()
}

// rm serves `rm NAME`.
func (a *Agent) rm(ctx context.Context, c *call, name string) *protocol.Response {
	if err := store.CheckName(name); err != nil {
		return protocol.Fail(err.Error())
	}
	a.mu.Lock()
	e, ok := a.snaps[name]
	var refuse string
	switch {
	case !ok:
		refuse = fmt.Sprintf("no snapshot %s; rigplan cache ls lists them", name)
	case e.snap.Default:
		refuse = fmt.Sprintf("%s is the default volume, which the agent never deletes", name)
	case e.inUse() && !e.finish:
		refuse = fmt.Sprintf("%s is in use (machine %s); it can be removed once that machine has exited", name, e.snap.Machine)
	case e.pins > 0 || !e.hold("delete"):
		refuse = fmt.Sprintf("%s is being copied or changed right now; try again in a moment", name)
	}
	a.mu.Unlock()
	if refuse != "" {
		return protocol.Fail(refuse)
	}
	if err := a.store.Delete(ctx, name); err != nil && !errors.Is(err, store.ErrNotFound) {
		a.release(name)
		c.log.Error("rm: deleting the snapshot failed", "snapshot", name, "err", err)
		return protocol.Fail(fmt.Sprintf("the store could not delete %s: %v", name, err))
	}
	a.forget(name)
	c.log.Info("removed by the operator", "snapshot", name)
	return protocol.RemoveResult{Snapshot: name}.Response()
}
