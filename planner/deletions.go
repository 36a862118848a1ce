package planner

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// planDeletions checks that every object the plan deletes can go. Each
// deletion is planned through its provider with a null config, as
// Terraform plans a destroy, so the provider can refuse what would take
// objects it knows of (such as volumes rigplan does not manage) with it.
// And nothing rigplan manages may be destroyed along with its container
// unless the plan deletes it too.
func (e *Engine) planDeletions(ctx context.Context, changes []*Change, managed map[schema.Address]providers.Object) hcl.Diagnostics {
	gone := map[schema.Address]bool{}
	for _, c := range changes {
		if c.Action == providers.Delete || c.Action == providers.Replace {
			gone[c.Addr] = true
		}
	}
	var diags hcl.Diagnostics
	for _, c := range changes {
		if !gone[c.Addr] {
			continue
		}
		rb := e.cfg.ResourceBlock(c.Addr)
		subject := func() *hcl.Range {
			if rb == nil {
				return nil
			}
			return rb.DeclRange.Ptr()
		}
		if kept := keptInside(c.Addr, managed, gone); len(kept) > 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Cannot %s %s: it holds objects this plan keeps", verb(c.Action), c.Addr),
				Detail: fmt.Sprintf("Removing %s would also destroy %s, which the plan does not delete. "+
					"Include them in the plan (for example with -target), or keep %s.", describe(c), strings.Join(kept, ", "), c.Addr),
				Subject: subject(),
			})
		}
		if c.Action != providers.Delete {
			continue // a replacement was planned with its config already
		}
		p, _ := e.reg.Provider(c.Addr.Type)
		res, _ := e.reg.Schema(c.Addr.Type)
		resp := p.Plan(ctx, &providers.PlanRequest{Addr: c.Addr, Config: cty.NullVal(res.ImpliedType()), Prior: c.Before})
		for _, d := range resp.Diagnostics {
			if d.Subject == nil {
				d.Subject = subject()
			}
		}
		diags = append(diags, resp.Diagnostics...)
	}
	return diags
}

// keptInside lists the managed objects contained in addr that the plan
// does not delete.
func keptInside(addr schema.Address, managed map[schema.Address]providers.Object, gone map[schema.Address]bool) []string {
	var out []string
	for a, o := range managed {
		if gone[a] {
			continue
		}
		for _, d := range o.DependsOn {
			if d == addr {
				out = append(out, a.String())
			}
		}
	}
	sort.Strings(out)
	return out
}
