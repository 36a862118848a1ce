package github

import (
	"context"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/ghapi"
	"github.com/rigplan/rigplan/internal/runnerconf"
	"github.com/rigplan/rigplan/providers"
)

// Plan proposes a runner policy: its file, and no orphaned or outdated
// runners. Before creating or changing one it makes one call to GitHub
// (the runner group's lookup; for a repository, one runner of the list),
// which proves the credentials, the App's installation and its permission
// before apply writes anything.
func (p *Provider) Plan(ctx context.Context, req *providers.PlanRequest) *providers.PlanResponse {
	prior := req.Prior
	if req.Config.IsNull() {
		var diags hcl.Diagnostics
		if d := deletions(prior); d != "" {
			diags = append(diags, warnf("Runners to delete", "Removing %s deletes its left-over runners on GitHub: %s. Runners without rigplan's label are never touched.", req.Addr, d))
		}
		return &providers.PlanResponse{Planned: req.Config, Diagnostics: diags}
	}
	resp := providers.DefaultPlan(p.schema, req.Config, prior)
	if resp.Planned.IsNull() || !resp.Planned.IsKnown() {
		return resp
	}
	vals := resp.Planned.AsValueMap()
	name := fileName(req.Addr)
	vals["label"] = cty.StringVal(runnerconf.Label(name))
	vals["config_file"] = cty.StringVal(runnerconf.Path("/", name))
	vals["orphans"] = cty.ListValEmpty(cty.String)
	vals["outdated"] = cty.ListValEmpty(cty.String)
	planned := cty.ObjectVal(vals)
	resp.Planned = planned
	if !prior.IsNull() {
		if d := deletions(prior); d != "" {
			resp.Diagnostics = append(resp.Diagnostics, warnf("Runners to delete", "Apply deletes these runners of %s on GitHub: %s.", req.Addr, d))
		}
	}
	if !planned.IsWhollyKnown() {
		return resp
	}
	c := configFrom(req.Addr, planned)
	cl, err := p.client(c)
	switch {
	case err != nil:
	case c.Scope.Kind == ghapi.Repository:
		// A repository's group is always Default: no call to prove
		// anything with, so list one runner.
		err = cl.Probe(ctx, c.Scope)
	default:
		_, err = cl.RunnerGroupID(ctx, c.Scope, c.Group)
	}
	if err != nil {
		resp.Diagnostics = append(resp.Diagnostics, errorf("GitHub refuses "+req.Addr.String(), "%v", err)...)
	}
	return resp
}

// deletions lists the runners a prior state says should go.
func deletions(prior cty.Value) string {
	if prior.IsNull() {
		return ""
	}
	var out []string
	for _, a := range []string{"orphans", "outdated"} {
		if v := prior.GetAttr(a); v.IsKnown() && !v.IsNull() {
			out = append(out, stringsOf(v)...)
		}
	}
	return strings.Join(out, ", ")
}
