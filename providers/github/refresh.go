package github

import (
	"context"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/fsutil"
	"github.com/rigplan/rigplan/internal/runnerconf"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Refresh reads rigplan's runner files (/etc/rigplan/runners) and, for
// each, lists its scope's runners on GitHub (all pages) to find rigplan's
// orphaned and outdated runners. A GitHub error fails the refresh,
// explained (a missing App permission names the permission to grant).
func (p *Provider) Refresh(ctx context.Context, req *providers.RefreshRequest) *providers.RefreshResponse {
	var diags hcl.Diagnostics
	files, bad, err := runnerconf.ReadAll(p.opts.Root)
	if err != nil {
		return &providers.RefreshResponse{Diagnostics: errorf("Could not read the runner files", "%v", err)}
	}
	var objs []providers.Object
	for _, inst := range req.Desired {
		name := fileName(inst.Addr)
		if why, ok := bad[name]; ok {
			// Someone else's file where this block wants one: the planner
			// refuses to take it over.
			objs = append(objs, providers.Object{Addr: inst.Addr, State: cty.NullVal(p.schema.ImpliedType()), ID: runnerconf.Path("/", name)})
			diags = append(diags, warnf("Runner file not rigplan's", "%s: %v. rigplan will not overwrite it; move it away or rename the block.", runnerconf.Path("/", name), why))
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		c := files[name]
		addr, err := schema.ParseAddress(c.Address)
		if err != nil || addr.Type != typeRunner || fileName(addr) != name {
			diags = append(diags, warnf("Runner file with an unusable mark", "%s names %q, whose file would be another: rigplan leaves it alone.", runnerconf.Path("/", name), c.Address))
			continue
		}
		cl, err := p.client(c)
		var d drift
		if err == nil {
			d, err = p.githubSide(ctx, cl, name, c)
		}
		if err != nil {
			return &providers.RefreshResponse{Diagnostics: append(diags, errorf("Cannot read "+addr.String()+"'s runners on GitHub", "%v", err)...)}
		}
		objs = append(objs, providers.Object{Addr: addr, State: p.stateFrom(name, c, d), Managed: true, ID: c.Scope.String()})
	}
	return &providers.RefreshResponse{Objects: objs, Diagnostics: diags}
}

// checkOwnership refuses a runner file that is not addr's.
func (p *Provider) checkOwnership(addr schema.Address, path string) hcl.Diagnostics {
	b, err := fsutil.ReadFile(path)
	if err != nil {
		return errorf("Cannot read the runner file", "%v", err)
	}
	if b == nil {
		return nil
	}
	c, err := runnerconf.Parse(b)
	switch {
	case err != nil:
		return errorf("Runner file not managed by rigplan", "%s exists and is %v; rigplan will not overwrite it. Move it away, or rename the block.", path, err)
	case c.Address != addr.String():
		return errorf("Runner file belongs to another resource", "%s is %s's, not %s's; rigplan will not overwrite it.", path, c.Address, addr)
	}
	return nil
}
