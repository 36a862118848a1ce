package planner

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// replan recomputes an instance's planned value once the objects it
// depends on exist, for values that were unknown when the plan was made.
// The new plan must agree with every value the operator already saw.
func (a *applier) replan(ctx context.Context, c *Change, prior cty.Value) (cty.Value, hcl.Diagnostics) {
	key := c.Addr.Block().String()
	b := a.ev.block(key)
	if b == nil {
		return cty.NilVal, hcl.Diagnostics{errorf("Cannot complete the plan", "%s: its block is not in the configuration the plan was made from.", c.Addr)}
	}
	for _, dep := range a.e.graph.dependencyClosure(key) {
		if n := a.e.graph.nodes[dep]; n.kind == nodeLocal {
			a.ev.evalLocal(n)
		}
	}
	dec, diags := a.ev.decode(b, c.Addr.Key)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	config := dec.Value
	if !prior.IsNull() {
		config = ignoreChanges(b.rb, config, prior)
	}
	if !config.IsWhollyKnown() {
		return cty.NilVal, hcl.Diagnostics{errorf("Value still unknown at apply",
			"%s: part of its configuration depends on an object outside this plan (for example one left out by -target). Plan again without -target, or include that object.", c.Addr)}
	}
	p, _ := a.e.reg.Provider(c.Addr.Type)
	resp := p.Plan(ctx, &providers.PlanRequest{Addr: c.Addr, Config: config, Prior: prior})
	diags = append(diags, resp.Diagnostics...)
	if resp.Diagnostics.HasErrors() {
		return cty.NilVal, diags
	}
	if path, ok := consistent(nil, c.After, resp.Planned); !ok || (!prior.IsNull() && len(resp.RequiresReplace) > 0) {
		where := "a change that cannot be made in place"
		if !ok {
			where = "a different value for " + schema.PathString(path)
		}
		return cty.NilVal, append(diags, errorf("Plan changed during apply",
			"%s: now that the objects it depends on exist, it would get %s than the plan showed. Nothing was done to it; run rigplan plan again to review.", c.Addr, where))
	}
	return resp.Planned, diags
}

// consistent reports whether every known part of planned is equal in
// final, returning the first path that differs.
func consistent(path cty.Path, planned, final cty.Value) (cty.Path, bool) {
	if !planned.IsKnown() {
		return nil, true
	}
	if planned.IsNull() || final.IsNull() || !final.IsKnown() {
		return path, planned.IsNull() == final.IsNull() && final.IsKnown()
	}
	ty := planned.Type()
	switch {
	case ty.IsObjectType():
		for name := range ty.AttributeTypes() {
			if p, ok := consistent(path.Copy().GetAttr(name), planned.GetAttr(name), final.GetAttr(name)); !ok {
				return p, false
			}
		}
		return nil, true
	case ty.IsListType() || ty.IsTupleType() || ty.IsMapType():
		if planned.LengthInt() != final.LengthInt() {
			return path, false
		}
		for it := planned.ElementIterator(); it.Next(); {
			k, v := it.Element()
			if !final.HasIndex(k).True() {
				return path, false
			}
			if p, ok := consistent(path.Copy().Index(k), v, final.Index(k)); !ok {
				return p, false
			}
		}
		return nil, true
	default:
		return path, planned.RawEquals(final)
	}
}

// outputs evaluates output blocks with the values the apply produced.
func (a *applier) outputs() ([]*OutputValue, hcl.Diagnostics) {
	var out []*OutputValue
	var diags hcl.Diagnostics
	for _, key := range a.e.graph.order {
		n := a.e.graph.nodes[key]
		switch n.kind {
		case nodeLocal:
			diags = append(diags, a.ev.evalLocal(n)...)
		case nodeOutput:
			o, d := a.ev.evalOutput(n)
			diags = append(diags, d...)
			if o != nil {
				out = append(out, o)
			}
		}
	}
	if diags.HasErrors() {
		return nil, hcl.Diagnostics{errorf("Outputs could not be computed", "%s", fmt.Sprint(diags.Errs()))}
	}
	return out, diags
}
