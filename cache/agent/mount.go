package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/match"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/store"
)

// mount serves `mount PATH`: the state machine of doc.go. Each step that
// changes the host pushes its undo; on any failure (a panic included) the
// undos run in reverse and the snapshot is gone again.
func (a *Agent) mount(ctx context.Context, c *call, m inject.Machine) *protocol.Response {
	req := c.req
	if err := inject.CheckPath(req.Path, m.Allowed); err != nil {
		return protocol.Fail(err.Error())
	}
	if fail := a.checkAnnotations(req.Annotations); fail != nil {
		return fail
	}
	rec, err := a.attach(m)
	if err != nil {
		return c.refusal("watching the machine", err)
	}
	// The cheap checks come before anything is made: a request refused
	// here costs no snapshot. Mount checks the target again.
	a.mu.Lock()
	taken := a.mountedAt(rec, req.Path)
	a.mu.Unlock()
	if taken != "" {
		return alreadyMounted(req.Path, taken)
	}
	if err := inject.CheckTarget(ctx, m, c.who.cred, req.Path); err != nil {
		return c.refusal("checking the mount path", err)
	}
	release, fail := a.createSlot(ctx, c, m.Name)
	if fail != nil {
		return fail
	}
	defer release()

	res, fail := a.reserve(c, rec)
	if fail != nil {
		return fail
	}
	name := res.Snapshot
	var u undo
	committed := false
	defer func() {
		a.unpin(res.origin)
		if committed {
			return
		}
		// The request failed (or panicked): take back what it did.
		u.run(a, c)
	}()
	u.push("forget it", func(context.Context) error { a.forget(name); return nil })
	if fail := a.ensureSpace(ctx, c); fail != nil {
		return fail
	}

	snap, err := a.store.Create(ctx, res.origin, name, m.Name, req.Annotations)
	for tries := 1; errors.Is(err, store.ErrNotFound) && !res.Default && tries <= maxVanishedOrigins; tries++ {
		// The origin is gone from the store (deleted by hand, or the
		// view is stale): it must not cost the job its cache. Forget it
		// and make the snapshot from the next candidate instead.
		c.log.Warn("the chosen origin is gone from the store; taking the next candidate", "origin", res.origin, "err", err)
		if derr := a.discard(ctx, name); derr != nil {
			c.log.Error("deleting what a failed create left failed; left for the periodic pass", "snapshot", name, "err", derr)
		}
		a.unpin(res.origin)
		a.forget(res.origin)
		if res, fail = a.reserve(c, rec); fail != nil {
			res = reservation{}
			return fail
		}
		name = res.Snapshot
		snap, err = a.store.Create(ctx, res.origin, name, m.Name, req.Annotations)
	}
	// Even a failed create may have left something (a snapshot without
	// its metadata): delete whatever is there.
	u.drop("forget it")
	u.push("delete the snapshot", func(ctx context.Context) error { return a.discard(ctx, name) })
	if err != nil {
		return a.storeFailure(c, "creating the snapshot", err)
	}
	a.created(name, snap, req.Annotations)
	a.pause("created")

	dir, id, err := a.stage(ctx, name)
	if err != nil {
		return c.internal("mounting the snapshot on the host", err)
	}
	u.push("unmount the staging mount", func(ctx context.Context) error { a.unstage(ctx, name); return nil })
	a.setID(name, id)
	a.pause("staged")

	if err := inject.Mount(ctx, m, c.who.cred, dir, req.Path); err != nil {
		return c.refusal("mounting the snapshot into the machine", err)
	}
	u.push("unmount it in the machine", func(ctx context.Context) error {
		err := inject.Unmount(ctx, m, req.Path)
		if machineGone(err) || errors.Is(err, inject.ErrNotMounted) {
			return nil // its mount namespace, and the mount, are going away
		}
		return err
	})
	a.pause("injected")

	// The machine's mount keeps the filesystem; the host lets go at once.
	u.drop("unmount the staging mount")
	a.unstage(ctx, name)
	a.pause("unstaged")

	if err := a.store.SetState(ctx, name, store.InUse); err != nil {
		return c.internal("recording the snapshot as in use", err)
	}
	a.pause("in-use")
	committed = true
	a.inUse(name)
	if !a.register(rec, name) {
		// The machine exited while the snapshot was being made: it is
		// finished now, as its machine would have had it finished.
		a.background(func(ctx context.Context) { a.finish(ctx, name, a.cfg.SealWait) })
	}
	c.log.Info("mounted", "machine", m.Name, "path", req.Path, "snapshot", name, "origin", res.origin, "criterion", res.criterionText())
	return res.Response()
}

// maxVanishedOrigins bounds how many chosen origins a mount finds gone
// from the store before it gives up: each costs a failed create.
const maxVanishedOrigins = 8

// reservation is what reserve chose for a mount.
type reservation struct {
	protocol.MountResult
	origin string
}

func (r reservation) criterionText() string {
	if r.Default {
		return protocol.DefaultCriterion
	}
	return protocol.CriterionText(r.Criterion)
}

// reserve chooses the origin with the request's criteria, pins it so
// that retention leaves it alone, and enters the new snapshot in the
// view, held by this mount, so that the same path cannot be asked for
// twice at once.
func (a *Agent) reserve(c *call, rec *machine) (reservation, *protocol.Response) {
	req := c.req
	a.mu.Lock()
	defer a.mu.Unlock()
	if rec.exited {
		return reservation{}, protocol.Fail(fmt.Sprintf("machine %q is gone: its leader exited", rec.m.Name))
	}
	if taken := a.mountedAt(rec, req.Path); taken != "" {
		return reservation{}, alreadyMounted(req.Path, taken)
	}
	if n := a.inUseBy(rec); n >= a.cfg.MaxInUsePerMachine {
		a.stats.refusedBusy++
		return reservation{}, protocol.Fail(fmt.Sprintf("machine %q already has %d caches in use, its limit; a job mounts one cache per path it needs, not more", rec.m.Name, n))
	}
	if a.def == "" {
		return reservation{}, c.internal("choosing an origin", fmt.Errorf("the store has no default volume"))
	}
	r := reservation{MountResult: protocol.MountResult{Path: req.Path, Default: true}, origin: a.def}
	if cand, i, ok := match.Match(a.storeTerms(req.Criteria), a.candidates()); ok {
		r.Default, r.Criterion, r.origin = false, req.Criteria[i], cand.Name
	}
	a.snaps[r.origin].pins++
	r.Snapshot = a.newName()
	a.add(&entry{
		snap: store.Snapshot{Name: r.Snapshot, State: store.Pending, Machine: rec.m.Name, Origin: r.origin, Created: a.now().UTC()},
		op:   "mount",
		raw:  req.Annotations,
		// Known before the snapshot exists, so that a second request for
		// the same path in the same machine is refused at once.
		machine: rec,
		path:    req.Path,
	})
	return r, nil
}

// mountedAt names the snapshot in use, or being mounted, at path in
// machine rec, or returns "". Call with a.mu held.
func (a *Agent) mountedAt(rec *machine, path string) string {
	for _, e := range a.snaps {
		if e.machine == rec && e.path == path && e.inUse() {
			return e.snap.Name
		}
	}
	return ""
}

// alreadyMounted is the answer to a mount at a path where snapshot is.
func alreadyMounted(path, snapshot string) *protocol.Response {
	return protocol.Fail(fmt.Sprintf("a cache is already mounted at %s in this machine (snapshot %s); mount the next one at another path", path, snapshot))
}

// createSlot waits for machine's own slot for making snapshots, then
// for one of the MaxCreates slots all machines share: a machine asking
// for many at once queues behind itself, and takes at most one of the
// shared slots.
func (a *Agent) createSlot(ctx context.Context, c *call, machine string) (func(), *protocol.Response) {
	mine, fail := a.machineSlot(ctx, c, machine)
	if fail != nil {
		return nil, fail
	}
	select {
	case a.creates <- struct{}{}:
		return func() { <-a.creates; mine() }, nil
	case <-ctx.Done():
		mine()
		return nil, protocol.Fail(fmt.Sprintf("the agent is too busy: no snapshot could be started within %v (request %d); try again", a.cfg.RequestTimeout, c.id))
	}
}

// unpin releases an origin pinned by reserve.
func (a *Agent) unpin(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e, ok := a.snaps[name]; ok {
		e.pins--
	}
}

// created records what the store made.
func (a *Agent) created(name string, snap store.Snapshot, raw []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e, ok := a.snaps[name]; ok {
		e.snap = snap
		e.raw = raw
	}
}

func (a *Agent) setID(name string, id mountID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e, ok := a.snaps[name]; ok {
		e.id = id
	}
}

// inUse records that the mount is done: the snapshot is in use and no
// longer held.
func (a *Agent) inUse(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if e, ok := a.snaps[name]; ok {
		e.snap.State = store.InUse
		e.op = ""
	}
}

// forget removes a snapshot from the view.
func (a *Agent) forget(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.remove(name)
}
