package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/store"
)

// rebuild rebuilds the agent's view after a start, from the store and
// the running machines, and cleans up what a crash at any point of a
// request left behind (see doc.go, "Crash recovery"). Work that must
// wait for a filesystem to be released is left marked for the periodic
// pass, so that the agent is ready soon.
func (a *Agent) rebuild(ctx context.Context) error {
	if err := a.prepareStateDir(); err != nil {
		return err
	}
	if err := a.cleanStaging(); err != nil {
		return err
	}
	snaps, err := a.store.List(ctx)
	if err != nil {
		return fmt.Errorf("cache agent: read the store: %w", err)
	}
	a.mu.Lock()
	for _, s := range snaps {
		a.snaps[s.Name] = &entry{snap: s}
		if s.Default {
			a.def = s.Name
		}
	}
	a.mu.Unlock()
	if a.def == "" {
		return errors.New("cache agent: the store lists no default volume: create it (rigplan apply) or fix the cache's store configuration")
	}
	var sealed, rewatched, finishing, deleted int
	for _, s := range snaps {
		if err := ctx.Err(); err != nil {
			return err
		}
		log := a.log.With("snapshot", s.Name, "machine", s.Machine)
		switch s.State {
		case store.Sealed:
			if !s.Default {
				sealed++
			}
		case store.Pending:
			// A request was cut short. If it got as far as mounting the
			// snapshot into its machine, take that mount back first: the
			// job never got an answer.
			a.unmountInMachine(ctx, s)
			if err := a.discard(ctx, s.Name); err != nil {
				log.Warn("start-up: a half-made snapshot is still held; the periodic pass deletes it later", "err", err)
				continue
			}
			log.Info("start-up: deleted a half-made snapshot")
			deleted++
		case store.InUse:
			if a.rewatch(ctx, s) {
				rewatched++
				continue
			}
			a.mu.Lock()
			a.snaps[s.Name].finish = true
			a.mu.Unlock()
			if a.finish(ctx, s.Name, 0) {
				log.Info("start-up: finished a snapshot whose machine is gone", "commit", string(a.cfg.Commit))
			} else {
				finishing++
			}
		}
	}
	a.log.Info("start-up pass done", "default", a.def, "sealed", sealed, "in_use", rewatched, "deleted", deleted, "left_to_finish", finishing)
	return nil
}

// rewatch checks whether in-use snapshot s is still mounted in its
// machine, running the same boot; if so it watches the machine again and
// reports true.
func (a *Agent) rewatch(ctx context.Context, s store.Snapshot) bool {
	m, entries, id, ok := a.machineMounts(ctx, s)
	if !ok {
		return false
	}
	a.setID(s.Name, id)
	for _, e := range entries {
		if !id.matches(e) {
			continue
		}
		rec, err := a.attach(m)
		if err != nil {
			return false // gone meanwhile
		}
		a.mu.Lock()
		a.snaps[s.Name].path = e.Target
		a.mu.Unlock()
		if !a.register(rec, s.Name) {
			return false
		}
		a.log.Info("start-up: watching an in-use snapshot's machine again", "snapshot", s.Name, "machine", m.Name, "path", e.Target)
		return true
	}
	return false
}

// unmountInMachine takes back every mount of snapshot s in its machine,
// if that machine runs.
func (a *Agent) unmountInMachine(ctx context.Context, s store.Snapshot) {
	m, entries, id, ok := a.machineMounts(ctx, s)
	if !ok {
		return
	}
	// Deepest (latest) first, in case a job mounted inside its cache.
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if !id.matches(e) {
			continue
		}
		if err := inject.Unmount(ctx, m, e.Target); err != nil && !errors.Is(err, inject.ErrNotMounted) {
			a.log.Warn("start-up: unmounting a half-made snapshot in its machine failed", "snapshot", s.Name, "machine", m.Name, "path", e.Target, "err", err)
			continue
		}
		a.log.Info("start-up: unmounted a half-made snapshot in its machine", "snapshot", s.Name, "machine", m.Name, "path", e.Target)
	}
}

// machineMounts finds s's machine, if it is declared and running, and
// lists its mounts, and learns how mounts of s look (by mounting it on
// the host a moment).
func (a *Agent) machineMounts(ctx context.Context, s store.Snapshot) (inject.Machine, []inject.MountEntry, mountID, bool) {
	if _, declared := a.cfg.Machines[s.Machine]; !declared {
		return inject.Machine{}, nil, mountID{}, false
	}
	m, err := a.id.Lookup(ctx, s.Machine)
	if err != nil {
		if !machineGone(err) {
			a.log.Warn("start-up: looking for a snapshot's machine failed", "snapshot", s.Name, "machine", s.Machine, "err", err)
		}
		return inject.Machine{}, nil, mountID{}, false
	}
	entries, err := inject.Mounts(ctx, m)
	if err != nil {
		return inject.Machine{}, nil, mountID{}, false
	}
	_, id, err := a.stage(ctx, s.Name)
	if err != nil {
		a.log.Warn("start-up: mounting a snapshot to learn its mounts failed", "snapshot", s.Name, "err", err)
		return inject.Machine{}, nil, mountID{}, false
	}
	a.unstage(ctx, s.Name)
	return m, entries, id, true
}
