package agent

import (
	"context"
	"fmt"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/store"
)

// save serves `save PATH`: a sealed copy, now, of the snapshot the
// machine has mounted at PATH. The job goes on writing its own snapshot;
// the copy is a candidate for later jobs at once. With CommitOnSave only
// such copies outlive the machine.
func (a *Agent) save(ctx context.Context, c *call, m inject.Machine) *protocol.Response {
	req := c.req
	if err := inject.CheckPath(req.Path, m.Allowed); err != nil {
		return protocol.Fail(err.Error())
	}
	if fail := a.checkAnnotations(req.Annotations); fail != nil {
		return fail
	}
	src, raw, fail := a.holdForSave(m, req.Path)
	if fail != nil {
		return fail
	}
	defer a.release(src)
	release, fail := a.createSlot(ctx, c, m.Name)
	if fail != nil {
		return fail
	}
	defer release()
	if fail := a.ensureSpace(ctx, c); fail != nil {
		return fail
	}

	annotations := req.Annotations
	if len(annotations) == 0 {
		annotations = raw
	}
	name := a.reserveCopy(m.Name, src, annotations)
	var u undo
	committed := false
	defer func() {
		if !committed {
			u.run(a, c)
		}
	}()
	u.push("forget the copy", func(context.Context) error { a.forget(name); return nil })

	dir, _, err := a.stage(ctx, src)
	if err != nil {
		return c.internal("mounting the snapshot on the host to copy it", err)
	}
	defer a.unstage(ctx, src)
	a.pause("save-staged")

	snap, err := a.store.Copy(ctx, src, dir, name, m.Name, annotations)
	u.drop("forget the copy")
	u.push("delete the copy", func(ctx context.Context) error { return a.discard(ctx, name) })
	if err != nil {
		return c.internal("copying the snapshot", err)
	}
	a.pause("copied")
	committed = true
	a.mu.Lock()
	if e, ok := a.snaps[name]; ok {
		e.snap, e.op, e.raw = snap, "", annotations
	}
	a.mu.Unlock()
	c.log.Info("saved", "machine", m.Name, "path", req.Path, "snapshot", src, "copy", name)
	return protocol.SaveResult{Path: req.Path, Snapshot: name}.Response()
}

// holdForSave finds the in-use snapshot machine m has at path and holds
// it for the save. It returns the annotations to give the copy when the
// request names none: as the mount wrote them if this run of the agent
// made it, else as the store keeps them.
func (a *Agent) holdForSave(m inject.Machine, path string) (string, []string, *protocol.Response) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.snaps {
		if e.machine == nil || keyOf(e.machine.m) != keyOf(m) || e.path != path {
			continue
		}
		if e.snap.State != store.InUse {
			return "", nil, protocol.Fail(fmt.Sprintf("the cache at %s is still being mounted; save it once the mount has answered", path))
		}
		if !e.hold("save") {
			return "", nil, protocol.Fail(fmt.Sprintf("the cache at %s is busy (%s); wait for that to finish and save again", path, e.op))
		}
		raw := e.raw
		if raw == nil {
			raw = e.snap.Annotations
		}
		return e.snap.Name, raw, nil
	}
	return "", nil, protocol.Fail(fmt.Sprintf("no cache is mounted at %s in this machine: mount one there first (mount %s)", path, path))
}

// reserveCopy enters the copy a save makes in the view, held, so that
// retention leaves it alone until it is sealed.
func (a *Agent) reserveCopy(machine, src string, annotations []string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	name := a.newName()
	a.add(&entry{
		snap: store.Snapshot{Name: name, State: store.Pending, Machine: machine, Origin: src, Created: a.now().UTC()},
		op:   "save",
		raw:  annotations,
	})
	return name
}

// release ends an operation on a snapshot. If its machine went away
// meanwhile, finishing it was left to whoever released it.
func (a *Agent) release(name string) {
	a.mu.Lock()
	e, ok := a.snaps[name]
	finish := ok && e.finish
	if ok {
		e.op = ""
	}
	a.mu.Unlock()
	if finish {
		a.background(func(ctx context.Context) { a.finish(ctx, name, a.cfg.SealWait) })
	}
}
