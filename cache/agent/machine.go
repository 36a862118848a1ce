package agent

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/rigplan/rigplan/cache/inject"
)

// machineKey names one boot of a machine: a machine that powers off and
// is started again (as runner machines are after each job) gets a new
// leader, so a new key.
type machineKey struct {
	name   string
	leader int
	start  uint64
}

func keyOf(m inject.Machine) machineKey {
	return machineKey{name: m.Name, leader: m.Leader, start: m.LeaderStart}
}

// machine is a running machine the agent watches: one pidfd per machine,
// shared by the snapshots mounted in it. Guarded by Agent.mu.
type machine struct {
	m     inject.Machine
	watch *inject.LeaderWatch
	// snaps are the snapshots mounted (or being mounted) in it.
	snaps map[string]bool
	// exited is set once its leader has exited.
	exited bool
}

// attach returns the record of machine m, watching its leader if it is
// not watched yet. It fails with inject.ErrNotRunning if the machine is
// already gone.
func (a *Agent) attach(m inject.Machine) (*machine, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if rec, ok := a.machines[keyOf(m)]; ok {
		return rec, nil
	}
	w, err := inject.WatchLeader(m)
	if err != nil {
		return nil, err
	}
	rec := &machine{m: m, watch: w, snaps: map[string]bool{}}
	a.machines[keyOf(m)] = rec
	a.background(func(ctx context.Context) { a.watchMachine(ctx, rec) })
	a.log.Info("watching machine", "machine", m.Name, "leader", m.Leader)
	return rec, nil
}

// watchMachine waits for rec's leader to exit, then finishes the
// snapshots mounted in it. When the agent stops first, it leaves them in
// use: the next start looks at them again.
func (a *Agent) watchMachine(ctx context.Context, rec *machine) {
	err := rec.watch.Wait(ctx)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		// The pidfd cannot fail on a live process; if it does, treat the
		// machine as gone: finishing waits for its mounts to go anyway.
		a.log.Error("watching a machine's leader failed", "machine", rec.m.Name, "err", err)
	}
	a.mu.Lock()
	rec.exited = true
	delete(a.machines, keyOf(rec.m))
	names := slices.Sorted(maps.Keys(rec.snaps))
	for _, n := range names {
		if e, ok := a.snaps[n]; ok {
			e.finish = true
			e.machine = nil
		}
	}
	a.mu.Unlock()
	rec.watch.Close()
	a.log.Info("machine exited", "machine", rec.m.Name, "leader", rec.m.Leader, "snapshots", names)
	for _, n := range names {
		a.finish(ctx, n, a.cfg.SealWait)
	}
}

// register records that snapshot name is mounted in rec at path. If the
// machine exited meanwhile, the snapshot is marked to be finished and
// register reports false.
func (a *Agent) register(rec *machine, name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.snaps[name]
	if rec.exited {
		e.finish = true
		e.machine = nil
		return false
	}
	rec.snaps[name] = true
	e.machine = rec
	return true
}

// unregister forgets that snapshot name is mounted in its machine. Call
// with a.mu held.
func (a *Agent) unregister(e *entry) {
	if e.machine != nil {
		delete(e.machine.snaps, e.snap.Name)
		e.machine = nil
	}
}

// closeWatches releases the pidfds of machines still running when the
// agent stops.
func (a *Agent) closeWatches() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, rec := range a.machines {
		rec.watch.Close()
		delete(a.machines, k)
	}
}

// machineGone reports whether err says the machine is no longer running.
func machineGone(err error) bool { return errors.Is(err, inject.ErrNotRunning) }
