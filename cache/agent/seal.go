package agent

import (
	"context"
	"errors"
	"time"

	"github.com/rigplan/rigplan/cache/store"
)

// finish seals (CommitOnExit) or deletes (CommitOnSave) snapshot name,
// whose machine is gone, once nothing holds its filesystem any more.
// Its machine's mount namespace goes away a moment after the leader
// exits, so finish polls, with backoff, for up to wait. If the snapshot
// is still held then, or held by another operation, it stays in use with
// its finish mark, and the periodic pass tries again. It reports whether
// the snapshot is finished.
func (a *Agent) finish(ctx context.Context, name string, wait time.Duration) bool {
	id, ok := a.holdForFinish(name)
	if !ok {
		return false
	}
	done, gone := false, false
	defer func() {
		if gone {
			a.forget(name)
			return
		}
		a.finished(name, done)
	}()
	log := a.log.With("snapshot", name)
	// vanished reports whether err says the snapshot is no longer in the
	// store (deleted by hand): there is nothing left to finish.
	vanished := func(err error) bool {
		if errors.Is(err, store.ErrNotFound) {
			log.Warn("finishing a snapshot: it is gone from the store; forgetting it", "err", err)
			gone = true
		}
		return gone
	}

	if _, checks := a.store.(store.BusyChecker); !checks && !id.known() {
		// Learned after a restart: mount it on the host a moment to see
		// how its mounts look.
		if _, learned, err := a.stage(ctx, name); vanished(err) {
			return false
		} else if err != nil {
			log.Error("finishing a snapshot: mounting it to learn its mounts failed; retrying later", "err", err)
			return false
		} else {
			id = learned
		}
		a.unstage(ctx, name)
		a.setID(name, id)
	}
	deadline := time.Now().Add(wait)
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		busy, where, err := a.busy(ctx, name, id)
		if ctx.Err() != nil {
			return false // the agent is stopping; the next start finishes it
		}
		if vanished(err) {
			return false
		}
		if err != nil {
			log.Error("finishing a snapshot: checking whether it is still mounted failed; retrying later", "err", err)
			return false
		}
		if !busy {
			break
		}
		if time.Now().Add(delay).After(deadline) {
			log.Info("snapshot still held after its machine exited; retrying at the next periodic pass", "where", where)
			return false
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return false
		}
	}
	a.pause("finishing")
	switch a.cfg.Commit {
	case CommitOnSave:
		if err := a.store.Delete(ctx, name); err != nil && !errors.Is(err, store.ErrNotFound) {
			log.Error("discarding an unsaved snapshot failed; retrying later", "err", err)
			return false
		}
		log.Info("discarded: its machine exited and the job never saved it (commit on save)")
	default:
		if err := a.store.SetState(ctx, name, store.Sealed); vanished(err) {
			return false
		} else if err != nil {
			log.Error("sealing a snapshot failed; retrying later", "err", err)
			return false
		}
		log.Info("sealed: its machine exited")
	}
	done = true
	return true
}

// holdForFinish holds a snapshot marked to be finished, and returns what
// is known of its mounts.
func (a *Agent) holdForFinish(name string) (mountID, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.snaps[name]
	if !ok || !e.finish || e.snap.State != store.InUse || !e.hold("finish") {
		return mountID{}, false
	}
	return e.id, true
}

// finished releases a snapshot finish held, recording the outcome.
func (a *Agent) finished(name string, done bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.snaps[name]
	if !ok {
		return
	}
	e.op = ""
	if !done {
		return
	}
	a.stats.finished++
	if a.cfg.Commit == CommitOnSave {
		a.remove(name)
		return
	}
	e.finish = false
	e.snap.State = store.Sealed
	e.path = ""
	a.unregister(e)
}

// finishPending retries every snapshot whose machine is gone but that
// could not be finished yet.
func (a *Agent) finishPending(ctx context.Context) {
	a.mu.Lock()
	var names []string
	for n, e := range a.snaps {
		if e.finish && e.op == "" {
			names = append(names, n)
		}
	}
	a.mu.Unlock()
	for _, n := range names {
		a.finish(ctx, n, 0)
	}
}
