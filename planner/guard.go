package planner

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// applyTargets keeps only the changes -target selects, plus the resources
// the selected ones depend on (they must exist first). Deleting an object
// whose block is gone needs a target naming it.
func (e *Engine) applyTargets(changes []*Change, opts Options) ([]*Change, hcl.Diagnostics) {
	if len(opts.Targets) == 0 {
		return changes, nil
	}
	var diags hcl.Diagnostics
	keep := map[schema.Address]bool{} // block addresses pulled in as dependencies
	for _, t := range opts.Targets {
		matched := false
		for _, c := range changes {
			if c.Addr.Matches(t) {
				matched = true
				for _, dep := range e.graph.dependencyClosure(c.Addr.Block().String()) {
					if n := e.graph.nodes[dep]; n.kind == nodeResource {
						keep[n.res.Addr()] = true
					}
				}
			}
		}
		if !matched {
			diags = append(diags, errorf("Target matches nothing",
				"-target %s names no resource in the configuration and no object rigplan manages on this host. Check the address with rigplan plan.", t))
		}
	}
	var out []*Change
	for _, c := range changes {
		selected := false
		for _, t := range opts.Targets {
			selected = selected || c.Addr.Matches(t)
		}
		isOrphan := c.Reason == ReasonNotInConfig || c.Reason == ReasonCountIndex
		if selected || (!isOrphan && keep[c.Addr.Block()]) {
			out = append(out, c)
		}
	}
	return out, diags
}

// checkReplaceRequests refuses -replace addresses that match no existing
// object, which would otherwise silently do nothing.
func (e *Engine) checkReplaceRequests(plan *Plan, opts Options) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, r := range opts.Replace {
		found := false
		for _, c := range plan.Changes {
			found = found || (c.Addr.Matches(r) && c.Action == providers.Replace && c.Reason == ReasonReplaceRequested)
			found = found || (c.Addr.Matches(r) && opts.Destroy)
		}
		if !found {
			diags = append(diags, errorf("Nothing to replace",
				"-replace %s matches no existing object rigplan manages (it may not have been created yet). Check the address with rigplan plan.", r))
		}
	}
	return diags
}

// guard refuses changes that lose data or that the configuration forbids:
// lifecycle.prevent_destroy always, and deleting or replacing an object of
// a type that holds data unless the operator allowed data loss. This also
// covers objects whose block was removed, which prevent_destroy alone
// cannot protect.
func (e *Engine) guard(plan *Plan, opts Options) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, c := range plan.Changes {
		if c.Action != providers.Delete && c.Action != providers.Replace {
			continue
		}
		rb := e.cfg.ResourceBlock(c.Addr)
		var subject *hcl.Range
		if rb != nil {
			subject = rb.DeclRange.Ptr()
		}
		if rb != nil && rb.PreventDestroy {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Instance cannot be destroyed: %s", c.Addr),
				Detail: fmt.Sprintf("%s has lifecycle.prevent_destroy set, but this plan would %s %s. Remove prevent_destroy from its lifecycle block if you really mean to, or change the plan so it keeps the object.",
					c.Addr, verb(c.Action), describe(c)),
				Subject: subject,
			})
			continue
		}
		res, _ := e.reg.Schema(c.Addr.Type)
		if res == nil || !res.HoldsData || opts.AllowDataLoss {
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Refusing to %s %s: it holds data", verb(c.Action), c.Addr),
			Detail: fmt.Sprintf("This plan would %s %s %s, and everything stored on it would be lost. "+
				"Nothing has been changed. If losing that data is what you want, run the command again with -allow-data-loss.%s",
				verb(c.Action), describe(c), why(c), keepHint(c)),
			Subject: subject,
		})
	}
	return diags
}

func verb(a providers.Action) string {
	if a == providers.Replace {
		return "replace"
	}
	return "destroy"
}

func describe(c *Change) string {
	if c.ID != "" {
		return fmt.Sprintf("%s (%s)", c.Addr, c.ID)
	}
	return c.Addr.String()
}

func why(c *Change) string {
	switch c.Reason {
	case ReasonNotInConfig:
		return "because its block is no longer in the configuration"
	case ReasonCountIndex:
		return "because its key is no longer in the block's count or for_each"
	case ReasonReplaceRequested:
		return "because -replace asks for it"
	case ReasonDestroy:
		return "because rigplan destroy removes everything rigplan manages"
	case ReasonReplaceForced:
		var names []string
		for _, p := range c.ReplacePaths {
			names = append(names, schema.PathString(p))
		}
		return fmt.Sprintf("because a change of %s cannot be made in place", strings.Join(names, ", "))
	}
	return ""
}

func keepHint(c *Change) string {
	switch c.Reason {
	case ReasonNotInConfig:
		return " To keep it, put its block back in the configuration."
	case ReasonReplaceForced:
		return " To keep it, undo the change of the attributes above."
	}
	return ""
}
