package github

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/fsutil"
	"github.com/rigplan/rigplan/internal/runnerconf"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Apply writes or removes a runner policy's file, and deletes rigplan's
// orphaned and outdated runners on GitHub (never one running a job, never
// one without rigplan's label).
func (p *Provider) Apply(ctx context.Context, req *providers.ApplyRequest) *providers.ApplyResponse {
	name := fileName(req.Addr)
	path := runnerconf.Path(p.opts.Root, name)
	if d := p.checkOwnership(req.Addr, path); d.HasErrors() {
		return &providers.ApplyResponse{New: req.Prior, Diagnostics: d}
	}
	switch req.Action {
	case providers.Delete:
		b, err := fsutil.ReadFile(path)
		if err != nil || b == nil {
			return &providers.ApplyResponse{New: cty.NullVal(p.schema.ImpliedType())}
		}
		c, err := runnerconf.Parse(b)
		if err != nil {
			return &providers.ApplyResponse{New: req.Prior, Diagnostics: errorf("Cannot read the runner file", "%s: %v", path, err)}
		}
		// The block is gone, and so are its runners without a job.
		if _, d := p.cleanUp(ctx, req.Addr, name, c, true); d.HasErrors() {
			return &providers.ApplyResponse{New: req.Prior, Diagnostics: d}
		}
		if err := fsutil.Remove(path); err != nil {
			return &providers.ApplyResponse{New: req.Prior, Diagnostics: errorf("Cannot remove the runner file", "%v", err)}
		}
		return &providers.ApplyResponse{New: cty.NullVal(p.schema.ImpliedType())}
	case providers.Create, providers.Update:
		if !req.Planned.IsWhollyKnown() {
			return &providers.ApplyResponse{New: req.Prior, Diagnostics: errorf("Runner not fully known", "%s still has unknown values at apply; this is a bug in rigplan.", req.Addr)}
		}
		c := configFrom(req.Addr, req.Planned)
		if err := fsutil.WriteAtomic(path, runnerconf.Marshal(c), 0o644); err != nil {
			return &providers.ApplyResponse{New: req.Prior, Diagnostics: errorf("Cannot write the runner file", "%v", err)}
		}
		left, d := p.cleanUp(ctx, req.Addr, name, c, false)
		return &providers.ApplyResponse{New: p.stateFrom(name, c, left), Diagnostics: d}
	}
	return &providers.ApplyResponse{New: req.Prior, Diagnostics: errorf("Unsupported change", "The github provider cannot %s %s. This is a bug in rigplan.", req.Action, req.Addr)}
}

// cleanUp deletes what githubSide finds should go, as GitHub shows it
// now, and returns what is left (outdated runners running a job). With
// gone (the block was removed) every idle runner of the block goes too.
func (p *Provider) cleanUp(ctx context.Context, addr schema.Address, name string, c runnerconf.Config, gone bool) (drift, hcl.Diagnostics) {
	cl, err := p.client(c)
	if err != nil {
		return drift{}, errorf("Cannot reach GitHub", "%v", err)
	}
	d, err := p.githubSide(ctx, cl, name, c)
	if err != nil {
		return d, errorf("Cannot read "+addr.String()+"'s runners on GitHub", "%v", err)
	}
	var left drift
	var diags hcl.Diagnostics
	doomed := append(d.orphans, d.outdated...)
	if gone {
		doomed = append(doomed, d.idle...)
	}
	for _, r := range doomed {
		if r.Busy {
			left.outdated = append(left.outdated, r)
			diags = append(diags, warnf("Outdated runner busy", "%s runs a job; the next apply deletes it once it is idle.", r.Name))
			continue
		}
		if err := cl.DeleteRunner(ctx, c.Scope, r.ID); err != nil {
			diags = append(diags, errorf(fmt.Sprintf("Cannot delete runner %s", r.Name), "%v", err)...)
		}
	}
	return left, diags
}
