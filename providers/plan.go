package providers

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/schema"
)

// DefaultPlan is the plan most resources need: the planned state is the
// config, with each computed attribute the config leaves unset taken from the
// prior state (or unknown when the object is new), and every ForceNew
// attribute that differs from the prior state listed as requiring
// replacement. Providers call it and then refine the result.
func DefaultPlan(res *schema.Resource, config, prior cty.Value) *PlanResponse {
	planned := FillComputed(res, config, prior)
	resp := &PlanResponse{Planned: planned}
	if prior.IsNull() {
		return resp
	}
	for _, path := range res.ForceNewPaths() {
		before, errB := path.Apply(prior)
		after, errA := path.Apply(planned)
		if errB != nil || errA != nil {
			continue
		}
		if !after.IsWhollyKnown() {
			// Unknown now; the apply walk re-plans once it is known.
			continue
		}
		if !before.RawEquals(after) {
			resp.RequiresReplace = append(resp.RequiresReplace, path)
		}
	}
	return resp
}

// FillComputed returns config with each top-level computed attribute that is
// null taken from prior, or unknown when there is no prior state.
func FillComputed(res *schema.Resource, config, prior cty.Value) cty.Value {
	if config.IsNull() || !config.IsKnown() {
		return config
	}
	vals := config.AsValueMap()
	if vals == nil {
		vals = map[string]cty.Value{}
	}
	for _, a := range res.Attributes {
		if !a.Computed {
			continue
		}
		if v, ok := vals[a.Name]; ok && !v.IsNull() {
			continue
		}
		switch {
		case !prior.IsNull() && prior.Type().HasAttribute(a.Name):
			vals[a.Name] = prior.GetAttr(a.Name)
		default:
			vals[a.Name] = cty.UnknownVal(a.Type)
		}
	}
	return cty.ObjectVal(vals)
}
