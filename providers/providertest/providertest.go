// Package providertest drives one provider in tests the way the planner
// does: decode a block, refresh, plan against the prior state, apply.
// Provider packages use it against their real provider on a temporary
// root; the planner's own graph walk is tested in package planner.
package providertest

import (
	"context"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Decode loads src (whole blocks, as in a .hcl file) with only p's
// resource types known and returns the decoded value of the block at
// addr (literal values only), with every diagnostic the loader and the
// schema give.
func Decode(p providers.Provider, addr schema.Address, src string) (cty.Value, hcl.Diagnostics) {
	reg, err := providers.NewRegistry(p)
	if err != nil {
		panic(err)
	}
	cfg, diags := schema.LoadSources("cfg", map[string][]byte{"main.hcl": []byte(src)}, reg)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	rb := cfg.ResourceBlock(addr)
	if rb == nil {
		return cty.NilVal, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "no block " + addr.String()}}
	}
	dec, d := schema.DecodeResource(rb, nil)
	diags = append(diags, d...)
	if dec == nil {
		return cty.NilVal, diags
	}
	return dec.Value, diags
}

// Harness runs a provider's Refresh, Plan and Apply for a test, failing
// it on error diagnostics where a step is not what the test examines.
type Harness struct {
	T testing.TB
	P providers.Provider
}

// Config decodes src and returns the value of the block at addr.
func (h Harness) Config(addr schema.Address, src string) cty.Value {
	h.T.Helper()
	v, diags := Decode(h.P, addr, src)
	if diags.HasErrors() {
		h.T.Fatalf("config does not decode: %v", diags)
	}
	return v
}

// Refresh returns what Refresh found, by address, and its warnings.
func (h Harness) Refresh(desired ...providers.Instance) (map[schema.Address]providers.Object, hcl.Diagnostics) {
	h.T.Helper()
	resp := h.P.Refresh(context.Background(), &providers.RefreshRequest{Desired: desired})
	if resp.Diagnostics.HasErrors() {
		h.T.Fatalf("refresh: %v", resp.Diagnostics)
	}
	out := map[schema.Address]providers.Object{}
	for _, o := range resp.Objects {
		out[o.Addr] = o
	}
	return out, resp.Diagnostics
}

// Null is the null state of addr's type.
func (h Harness) Null(addr schema.Address) cty.Value {
	h.T.Helper()
	for _, r := range h.P.Schemas() {
		if r.Type == addr.Type {
			return cty.NullVal(r.ImpliedType())
		}
	}
	h.T.Fatalf("provider %s has no resource type %s", h.P.Name(), addr.Type)
	return cty.NilVal
}

// Prior is the managed state of addr that a refresh with config finds,
// or null.
func (h Harness) Prior(addr schema.Address, config cty.Value) cty.Value {
	h.T.Helper()
	objs, _ := h.Refresh(providers.Instance{Addr: addr, Config: config})
	if o, ok := objs[addr]; ok && o.Managed {
		return o.State
	}
	return h.Null(addr)
}

// Plan plans config against prior.
func (h Harness) Plan(addr schema.Address, config, prior cty.Value) *providers.PlanResponse {
	h.T.Helper()
	resp := h.P.Plan(context.Background(), &providers.PlanRequest{Addr: addr, Config: config, Prior: prior})
	if resp.Diagnostics.HasErrors() {
		h.T.Fatalf("plan: %v", resp.Diagnostics)
	}
	return resp
}

// Converge refreshes, plans and applies addr's config as the planner
// would. It returns the change's action, the plan, and the apply's
// response (nil when there is no change).
func (h Harness) Converge(addr schema.Address, config cty.Value) (providers.Action, *providers.PlanResponse, *providers.ApplyResponse) {
	h.T.Helper()
	prior := h.Prior(addr, config)
	plan := h.Plan(addr, config, prior)
	action := providers.Update
	switch {
	case prior.IsNull():
		action = providers.Create
	case prior.RawEquals(plan.Planned):
		return providers.NoOp, plan, nil
	}
	return action, plan, h.P.Apply(context.Background(), &providers.ApplyRequest{Addr: addr, Action: action, Prior: prior, Planned: plan.Planned})
}

// MustConverge converges and fails the test when apply reports errors.
func (h Harness) MustConverge(addr schema.Address, config cty.Value) providers.Action {
	h.T.Helper()
	action, _, resp := h.Converge(addr, config)
	if resp != nil && resp.Diagnostics.HasErrors() {
		h.T.Fatalf("apply: %v", resp.Diagnostics)
	}
	return action
}

// ConfigOf builds a config value of res as the loader decodes one: the
// attributes given, schema defaults for the others, computed-only ones
// null. It fails the test for an attribute res does not have.
func ConfigOf(t testing.TB, res *schema.Resource, attrs map[string]cty.Value) cty.Value {
	t.Helper()
	for k := range attrs {
		if res.Attribute(k) == nil {
			t.Fatalf("%s has no attribute %q", res.Type, k)
		}
	}
	vals := map[string]cty.Value{}
	for _, a := range res.Attributes {
		switch v, ok := attrs[a.Name]; {
		case ok:
			vals[a.Name] = v
		case a.Default != cty.NilVal:
			vals[a.Name] = a.Default
		default:
			vals[a.Name] = cty.NullVal(a.Type)
		}
	}
	return cty.ObjectVal(vals)
}
