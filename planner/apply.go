package planner

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Hooks receives an apply's progress, for the CLI to print. Calls may come
// from several goroutines at once.
type Hooks interface {
	PreApply(addr schema.Address, action providers.Action, id string)
	PostApply(addr schema.Address, action providers.Action, err error, elapsed time.Duration)
}

// ApplyResult tells what an apply did.
type ApplyResult struct {
	Added, Changed, Destroyed int
	Outputs                   []*OutputValue
	// NotApplied are the changes left undone because an earlier one failed
	// or the apply was interrupted.
	NotApplied []schema.Address
}

type opKind int

const (
	opDelete opKind = iota
	opCreate
	opUpdate
)

// op is one provider call of the apply. A replacement is two ops.
type op struct {
	change *Change
	kind   opKind
	deps   []*op
	state  opState
}

type opState int

const (
	opPending opState = iota
	opRunning
	opDone
	opFailed
)

func (o *op) action() providers.Action {
	switch o.kind {
	case opDelete:
		return providers.Delete
	case opCreate:
		return providers.Create
	default:
		return providers.Update
	}
}

// Apply carries out a plan: creates and updates after what they depend on,
// deletions before the objects that contain them, independent changes
// concurrently up to e.Parallelism. At the first failure (or when ctx is
// cancelled) it starts nothing new, lets running changes finish, and
// reports what was left undone; no change runs after one it depends on
// failed. A cancelled apply is an error only if something was left
// undone or failed.
func (e *Engine) Apply(ctx context.Context, plan *Plan, hooks Hooks) (*ApplyResult, hcl.Diagnostics) {
	a := &applier{e: e, plan: plan, hooks: hooks, result: &ApplyResult{}, interrupted: ctx.Done()}
	a.prepare()
	ops, err := buildOps(plan.Changes)
	if err != nil {
		return nil, hcl.Diagnostics{errorf("Cannot order the changes", "%v. This is a bug in rigplan.", err)}
	}
	diags := a.schedule(ctx, ops)
	if !diags.HasErrors() {
		outputs, d := a.outputs()
		diags = append(diags, d...)
		a.result.Outputs = outputs
	}
	return a.result, diags
}

type applier struct {
	e      *Engine
	plan   *Plan
	hooks  Hooks
	ev     *evaluator
	result *ApplyResult
	// interrupted is the apply's ctx.Done(): changes run on a context
	// that is never cancelled, and learn of an interrupt from this.
	interrupted <-chan struct{}
}

// prepare replays the plan's evaluation with planned values, so that a
// value only known after apply can be recomputed from the objects it
// depends on once they exist.
func (a *applier) prepare() {
	byAddr := make(map[schema.Address]*Change, len(a.plan.Changes))
	for _, c := range a.plan.Changes {
		byAddr[c.Addr] = c
	}
	a.ev = a.e.newEvaluator()
	a.ev.walk(func(b *block) hcl.Diagnostics {
		for _, k := range b.keys {
			if c, ok := byAddr[b.addr(k)]; ok && c.Action != providers.Delete {
				a.ev.set(b, k, c.After)
			}
		}
		return nil
	})
}

func buildOps(changes []*Change) ([]*op, error) {
	var ops []*op
	deleteOf := map[schema.Address]*op{}
	upsertOf := map[schema.Address]*op{}
	for _, c := range changes {
		switch c.Action {
		case providers.Create:
			upsertOf[c.Addr] = &op{change: c, kind: opCreate}
		case providers.Update:
			upsertOf[c.Addr] = &op{change: c, kind: opUpdate}
		case providers.Delete:
			deleteOf[c.Addr] = &op{change: c, kind: opDelete}
		case providers.Replace:
			del := &op{change: c, kind: opDelete}
			deleteOf[c.Addr] = del
			upsertOf[c.Addr] = &op{change: c, kind: opCreate, deps: []*op{del}}
		}
	}
	for _, c := range changes {
		if up, ok := upsertOf[c.Addr]; ok {
			for _, d := range c.Deps {
				for addr, other := range upsertOf {
					if addr != c.Addr && addr.Matches(d) {
						up.deps = append(up.deps, other)
					}
				}
			}
		}
		// An object is deleted only after everything that depends on it.
		for _, d := range c.Deps {
			for addr, container := range deleteOf {
				if addr != c.Addr && addr.Matches(d) {
					if mine, ok := deleteOf[c.Addr]; ok {
						container.deps = append(container.deps, mine)
					}
				}
			}
		}
	}
	for _, o := range deleteOf {
		ops = append(ops, o)
	}
	for _, o := range upsertOf {
		ops = append(ops, o)
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].change.Addr != ops[j].change.Addr {
			return ops[i].change.Addr.Less(ops[j].change.Addr)
		}
		return ops[i].kind < ops[j].kind
	})
	if err := checkAcyclic(ops); err != nil {
		return nil, err
	}
	return ops, nil
}

func checkAcyclic(ops []*op) error {
	state := map[*op]int{}
	var visit func(o *op) error
	visit = func(o *op) error {
		switch state[o] {
		case 1:
			return fmt.Errorf("changes depend on each other in a cycle through %s", o.change.Addr)
		case 2:
			return nil
		}
		state[o] = 1
		for _, d := range o.deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[o] = 2
		return nil
	}
	for _, o := range ops {
		if err := visit(o); err != nil {
			return err
		}
	}
	return nil
}

type opResult struct {
	op    *op
	diags hcl.Diagnostics
}

func (a *applier) schedule(ctx context.Context, ops []*op) hcl.Diagnostics {
	parallelism := max(a.e.Parallelism, 1)
	// Changes that started run to completion even when ctx is cancelled: an
	// LVM command killed halfway helps nobody. Cancellation only stops new
	// changes from starting, and tells those that wait to stop waiting
	// (ApplyRequest.Interrupted).
	runCtx := context.WithoutCancel(ctx)
	results := make(chan opResult)
	running := 0
	stopping, interrupted := false, false
	done := ctx.Done()
	var diags hcl.Diagnostics
	for {
		if !stopping {
			for _, o := range ops {
				if running >= parallelism {
					break
				}
				if o.state == opPending && ready(o) {
					o.state = opRunning
					running++
					go func() { results <- opResult{op: o, diags: a.run(runCtx, o)} }()
				}
			}
		}
		if running == 0 {
			break
		}
		select {
		case r := <-results:
			running--
			a.finish(r, &diags)
			if r.op.state == opFailed {
				stopping = true
			}
		case <-done:
			// Once is enough: a nil channel never fires, so the loop now
			// waits for the running changes instead of spinning.
			done = nil
			stopping, interrupted = true, true
		}
	}
	for _, o := range ops {
		if o.state == opPending {
			a.result.NotApplied = append(a.result.NotApplied, o.change.Addr)
		}
	}
	// An interrupt during the last changes, which then all succeeded,
	// left nothing undone: the apply is complete, whichever came first.
	if interrupted && (len(a.result.NotApplied) > 0 || diags.HasErrors()) {
		diags = append(hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Apply interrupted",
			Detail:   "rigplan stopped starting new changes; the changes already running were allowed to finish. Run rigplan plan to see what is left.",
		}}, diags...)
	}
	if !stopping && len(a.result.NotApplied) > 0 {
		diags = append(diags, errorf("Changes could not be ordered", "%d changes never became ready. This is a bug in rigplan.", len(a.result.NotApplied)))
	}
	return diags
}

func ready(o *op) bool {
	for _, d := range o.deps {
		if d.state != opDone {
			return false
		}
	}
	return true
}

func (a *applier) finish(r opResult, diags *hcl.Diagnostics) {
	*diags = append(*diags, r.diags...)
	if r.diags.HasErrors() {
		r.op.state = opFailed
		return
	}
	r.op.state = opDone
	c := r.op.change
	switch {
	case r.op.kind == opCreate:
		a.result.Added++
	case r.op.kind == opUpdate:
		a.result.Changed++
	case c.Action == providers.Replace || c.Action == providers.Delete:
		a.result.Destroyed++
	}
}

// run performs one op through the instance's provider.
func (a *applier) run(ctx context.Context, o *op) hcl.Diagnostics {
	c := o.change
	p, _ := a.e.reg.Provider(c.Addr.Type)
	res, _ := a.e.reg.Schema(c.Addr.Type)
	start := time.Now()
	a.hooks.PreApply(c.Addr, o.action(), c.ID)
	req := &providers.ApplyRequest{Addr: c.Addr, Action: o.action(), Prior: c.Before, Planned: c.After, Interrupted: a.interrupted}
	var diags hcl.Diagnostics
	switch o.kind {
	case opDelete:
		req.Planned = cty.NullVal(res.ImpliedType())
	case opCreate:
		req.Prior = cty.NullVal(res.ImpliedType())
	}
	if o.kind != opDelete && !req.Planned.IsWhollyKnown() {
		req.Planned, diags = a.replan(ctx, c, req.Prior)
	}
	if !diags.HasErrors() {
		resp := p.Apply(ctx, req)
		diags = append(diags, resp.Diagnostics...)
		if o.kind != opDelete && !resp.Diagnostics.HasErrors() {
			if resp.New == cty.NilVal || !resp.New.IsWhollyKnown() {
				diags = append(diags, errorf("Provider returned an incomplete state", "%s: the %s provider left values unknown after apply. This is a bug in rigplan.", c.Addr, res.Provider))
			} else if b := a.ev.block(c.Addr.Block().String()); b != nil {
				a.ev.set(b, c.Addr.Key, resp.New)
			}
		}
	}
	var err error
	if diags.HasErrors() {
		err = fmt.Errorf("%s", diags.Errs()[0])
		for _, d := range diags {
			if d.Severity == hcl.DiagError && d.Summary != "" && d.Subject == nil {
				d.Summary = fmt.Sprintf("%s: %s", c.Addr, d.Summary)
			}
		}
	}
	a.hooks.PostApply(c.Addr, o.action(), err, time.Since(start))
	return diags
}
