package agent

import (
	"context"
	"errors"
	"slices"

	"github.com/rigplan/rigplan/cache/store"
)

// undo is the list of steps that take back what a request did so far.
type undo []undoStep

type undoStep struct {
	what string
	fn   func(context.Context) error
}

// push adds the step that undoes the one just done.
func (u *undo) push(what string, fn func(context.Context) error) {
	*u = append(*u, undoStep{what, fn})
}

// drop removes a step that is no longer needed (done by the request
// itself, or replaced).
func (u *undo) drop(what string) {
	*u = slices.DeleteFunc(*u, func(s undoStep) bool { return s.what == what })
}

// run takes the steps back, last first, on a context of their own (the
// request's may be what ran out). A step that fails is logged; what it
// leaves is the start-up pass's or the periodic pass's to clean up.
func (u undo) run(a *Agent, c *call) {
	ctx, cancel := a.fresh()
	defer cancel()
	for i := len(u) - 1; i >= 0; i-- {
		if err := u[i].fn(ctx); err != nil {
			c.log.Error("undoing a failed request: "+u[i].what+" failed; left for the periodic pass", "err", err)
		}
	}
}

// discard deletes a snapshot a failed request made and forgets it. If
// the store cannot delete it now (its filesystem is still held), it stays
// in the view as pending, held by nobody, and the periodic pass deletes
// it later.
func (a *Agent) discard(ctx context.Context, name string) error {
	err := a.store.Delete(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.mu.Lock()
		if e, ok := a.snaps[name]; ok {
			a.unregister(e)
			e.snap.State = store.Pending
			e.op = ""
		}
		a.mu.Unlock()
		return err
	}
	a.forget(name)
	return nil
}
