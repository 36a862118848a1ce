package planner

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Plan refreshes the host's actual state through the providers and
// computes the changes that would make it match the configuration.
//
// It evaluates the configuration twice: once to learn what it wants (so
// each provider can read everything in one go), then, after refresh, in
// dependency order with every resource's planned value visible to the
// expressions that reference it.
func (e *Engine) Plan(ctx context.Context, opts Options) (*Plan, hcl.Diagnostics) {
	ev := e.newEvaluator()
	diags := ev.scope.CheckVariables(e.cfg)
	if diags.HasErrors() {
		return nil, diags
	}
	var desired []providers.Instance
	_, d := ev.walk(func(b *block) hcl.Diagnostics {
		if b.expansion == expandUnknown {
			return hcl.Diagnostics{unknownExpansion(b.rb)}
		}
		insts, d := ev.desired(b)
		desired = append(desired, insts...)
		return d
	})
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}

	managed, unmanaged, d := e.refresh(ctx, desired)
	diags = append(diags, d...)
	diags = append(diags, e.unmanagedConflicts(unmanaged)...)
	if diags.HasErrors() {
		return nil, diags
	}

	plan := &Plan{Options: opts, Sources: e.cfg.Sources, Vars: e.vars}
	ev = e.newEvaluator()
	seen := map[schema.Address]bool{}
	outputs, d := ev.walk(func(b *block) hcl.Diagnostics {
		var diags hcl.Diagnostics
		for _, k := range b.keys {
			addr := b.addr(k)
			seen[addr] = true
			var prior *providers.Object
			if o, ok := managed[addr]; ok {
				prior = &o
			}
			c, d := e.planInstance(ctx, ev, b, k, prior, opts)
			diags = append(diags, d...)
			if c != nil {
				plan.Changes = append(plan.Changes, c)
			}
		}
		return diags
	})
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	plan.Outputs = outputs
	plan.Changes = append(plan.Changes, e.orphans(managed, seen)...)
	if opts.Destroy {
		plan.Changes = e.destroyAll(plan.Changes, managed)
	}
	var err hcl.Diagnostics
	if plan.Changes, err = e.applyTargets(plan.Changes, opts); err.HasErrors() {
		return nil, append(diags, err...)
	}
	if d := e.checkReplaceRequests(plan, opts); d.HasErrors() {
		return nil, append(diags, d...)
	}
	// Both checks run, so the operator learns every reason at once.
	d = append(e.guard(plan, opts), e.planDeletions(ctx, plan.Changes, managed)...)
	diags = append(diags, d...)
	if d.HasErrors() {
		return nil, diags
	}
	plan.sort()
	return plan, diags
}

// planInstance asks the instance's provider what it will become and
// classifies the change.
func (e *Engine) planInstance(ctx context.Context, ev *evaluator, b *block, k schema.Key, prior *providers.Object, opts Options) (*Change, hcl.Diagnostics) {
	res := b.rb.Schema
	addr := b.addr(k)
	dec, diags := ev.decode(b, k)
	if diags.HasErrors() {
		return nil, diags
	}
	p, _ := e.reg.Provider(addr.Type)
	c := &Change{
		Addr:           addr,
		Before:         cty.NullVal(res.ImpliedType()),
		SensitivePaths: dec.SensitivePaths,
		Deps:           e.graph.resourceDeps(b.node.key),
	}
	config := dec.Value
	if prior != nil {
		c.Before, c.ID = prior.State, prior.ID
		c.Deps = append(c.Deps, prior.DependsOn...)
		config = ignoreChanges(b.rb, config, prior.State)
	}
	resp := p.Plan(ctx, &providers.PlanRequest{Addr: addr, Config: config, Prior: c.Before})
	diags = append(diags, located(resp.Diagnostics, b.rb.DeclRange)...)
	if resp.Diagnostics.HasErrors() {
		return nil, diags
	}
	if err := conforms(resp.Planned, res); err != nil {
		return nil, append(diags, errorf("Provider produced an invalid plan", "%s: %v. This is a bug in rigplan's %s provider.", addr, err, res.Provider))
	}
	c.After = resp.Planned
	replaceRequested := false
	for _, r := range opts.Replace {
		replaceRequested = replaceRequested || addr.Matches(r)
	}
	switch {
	case prior == nil:
		c.Action = providers.Create
	case replaceRequested:
		c.Action, c.Reason = providers.Replace, ReasonReplaceRequested
	case len(resp.RequiresReplace) > 0:
		c.Action, c.Reason, c.ReplacePaths = providers.Replace, ReasonReplaceForced, resp.RequiresReplace
	case c.Before.RawEquals(c.After):
		c.Action = providers.NoOp
	default:
		c.Action = providers.Update
	}
	if c.Action == providers.Replace {
		// The new object is planned from nothing, as a create would be.
		fresh := p.Plan(ctx, &providers.PlanRequest{Addr: addr, Config: config, Prior: cty.NullVal(res.ImpliedType())})
		diags = append(diags, located(fresh.Diagnostics, b.rb.DeclRange)...)
		if fresh.Diagnostics.HasErrors() {
			return nil, diags
		}
		c.After = fresh.Planned
	}
	ev.set(b, k, c.After)
	return c, diags
}

// ignoreChanges keeps the host's value for attributes the block's
// lifecycle says to leave alone.
func ignoreChanges(rb *schema.ResourceBlock, config, prior cty.Value) cty.Value {
	if rb.IgnoreAllChanges {
		return prior
	}
	if len(rb.IgnoreChanges) == 0 || prior.IsNull() {
		return config
	}
	out, err := cty.Transform(config, func(p cty.Path, v cty.Value) (cty.Value, error) {
		for _, ign := range rb.IgnoreChanges {
			if p.Equals(ign) {
				if pv, err := p.Apply(prior); err == nil {
					return pv, nil
				}
			}
		}
		return v, nil
	})
	if err != nil {
		return config
	}
	return out
}

// orphans plans the deletion of managed objects that the configuration no
// longer declares.
func (e *Engine) orphans(managed map[schema.Address]providers.Object, seen map[schema.Address]bool) []*Change {
	var out []*Change
	for addr, o := range managed {
		if seen[addr] {
			continue
		}
		reason := ReasonNotInConfig
		if e.cfg.ResourceBlock(addr) != nil {
			reason = ReasonCountIndex
		}
		out = append(out, deleteChange(o, reason, e.reg))
	}
	return out
}

// destroyAll turns a plan into the deletion of every managed object.
func (e *Engine) destroyAll(changes []*Change, managed map[schema.Address]providers.Object) []*Change {
	var out []*Change
	for _, c := range changes {
		o, ok := managed[c.Addr]
		if !ok {
			continue // not on the host: nothing to destroy
		}
		d := deleteChange(o, ReasonDestroy, e.reg)
		if c.Reason != ReasonNotInConfig && c.Reason != ReasonCountIndex {
			d.Deps = append(d.Deps, c.Deps...)
		} else {
			d.Reason = c.Reason
		}
		out = append(out, d)
	}
	return out
}

func deleteChange(o providers.Object, reason Reason, reg *providers.Registry) *Change {
	res, _ := reg.Schema(o.Addr.Type)
	return &Change{
		Addr:   o.Addr,
		Action: providers.Delete,
		Before: o.State,
		After:  cty.NullVal(res.ImpliedType()),
		Reason: reason,
		ID:     o.ID,
		Deps:   o.DependsOn,
	}
}

// unmanagedConflicts refuses objects that exist on the host under a name
// the configuration wants but that rigplan did not create.
func (e *Engine) unmanagedConflicts(objs []providers.Object) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, o := range objs {
		d := &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("%s already exists and is not managed by rigplan", o.ID),
			Detail: fmt.Sprintf("%s wants to create %s, but an object of that name already exists on this host without rigplan's ownership mark. "+
				"rigplan never takes over what it did not create. Choose another name in the configuration, or remove the existing object yourself if it is no longer needed.",
				o.Addr, o.ID),
		}
		if rb := e.cfg.ResourceBlock(o.Addr); rb != nil {
			d.Subject = rb.DeclRange.Ptr()
		}
		diags = append(diags, d)
	}
	return diags
}

func unknownExpansion(rb *schema.ResourceBlock) *hcl.Diagnostic {
	expr, what := rb.Count, "count"
	if rb.ForEach != nil {
		expr, what = rb.ForEach, "for_each"
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s argument", what),
		Detail:   fmt.Sprintf("The %s value depends on attributes that are only known after apply, so rigplan cannot tell how many instances to plan. Base %s on variables, locals or attributes known from the configuration.", what, what),
		Subject:  expr.Range().Ptr(),
	}
}

// located gives diagnostics without a source range the block's range.
func located(diags hcl.Diagnostics, rng hcl.Range) hcl.Diagnostics {
	for _, d := range diags {
		if d.Subject == nil {
			d.Subject = rng.Ptr()
		}
	}
	return diags
}

func conforms(v cty.Value, res *schema.Resource) error {
	if v == cty.NilVal {
		return fmt.Errorf("no planned value")
	}
	if errs := v.Type().TestConformance(res.ImpliedType()); len(errs) > 0 {
		return fmt.Errorf("planned value does not match the %s schema: %v", res.Type, errs[0])
	}
	return nil
}
