package lvm

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/bytesize"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// planner plans one instance. It starts from providers.DefaultPlan and
// refines it: sizes compared after LVM's rounding, shrinks turned into
// replacements, and host checks that would otherwise fail half-way through
// an apply.
type planner struct {
	p    *Provider
	snap *snapshot
	res  *schema.Resource
	req  *providers.PlanRequest
	resp *providers.PlanResponse
}

func (pl *planner) start() {
	pl.resp = providers.DefaultPlan(pl.res, pl.req.Config, pl.req.Prior)
}

// deleting reports a plan for deletion (the planner may ask with a null
// config).
func (pl *planner) deleting() bool { return pl.req.Config.IsNull() }

func (pl *planner) creating() bool { return pl.req.Prior.IsNull() }

func (pl *planner) replacing() bool { return len(pl.resp.RequiresReplace) > 0 }

// set replaces one top-level attribute of the planned value.
func (pl *planner) set(name string, v cty.Value) {
	if pl.resp.Planned.IsNull() || !pl.resp.Planned.IsKnown() {
		return
	}
	m := pl.resp.Planned.AsValueMap()
	m[name] = v
	pl.resp.Planned = cty.ObjectVal(m)
}

func (pl *planner) planned(name string) cty.Value { return pl.resp.Planned.GetAttr(name) }

func (pl *planner) prior(name string) cty.Value { return pl.req.Prior.GetAttr(name) }

// replace marks an attribute as forcing replacement.
func (pl *planner) replace(name string) {
	p := cty.GetAttrPath(name)
	for _, q := range pl.resp.RequiresReplace {
		if q.Equals(p) {
			return
		}
	}
	pl.resp.RequiresReplace = append(pl.resp.RequiresReplace, p)
}

// noReplace withdraws a replacement DefaultPlan asked for because two
// spellings differ, when they mean the same.
func (pl *planner) noReplace(name string) {
	p := cty.GetAttrPath(name)
	out := pl.resp.RequiresReplace[:0]
	for _, q := range pl.resp.RequiresReplace {
		if !q.Equals(p) {
			out = append(out, q)
		}
	}
	pl.resp.RequiresReplace = out
}

func (pl *planner) errorf(summary, detail string) {
	pl.resp.Diagnostics = append(pl.resp.Diagnostics, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail})
}

// sizeChange compares a planned size with the prior one after rounding
// both as LVM would. When they are the same size the prior spelling is
// kept; a smaller planned size is reported as shrink.
func (pl *planner) sizeChange(name string, round func(int64) int64) (grow, shrink bool) {
	if pl.creating() || pl.deleting() {
		return false, false
	}
	want, ok1 := stringOf(pl.planned(name))
	have, ok2 := stringOf(pl.prior(name))
	if !ok1 || !ok2 {
		return false, false
	}
	w, err1 := bytesize.Parse(want)
	h, err2 := bytesize.Parse(have)
	if err1 != nil || err2 != nil {
		return false, false
	}
	w, h = round(w), round(h)
	switch {
	case w == h:
		pl.set(name, pl.prior(name))
		pl.noReplace(name)
	case w < h:
		return false, true
	default:
		return true, false
	}
	return false, false
}

// stringOf returns a known, non-null string.
func stringOf(v cty.Value) (string, bool) {
	if v.IsNull() || !v.IsKnown() || !v.Type().Equals(cty.String) {
		return "", false
	}
	return v.AsString(), true
}

// extentOf is the extent size of a VG as the snapshot saw it, or LVM's
// default for a VG that does not exist yet.
func (pl *planner) extentOf(vg string) int64 {
	if r := pl.snap.vg(vg); r != nil {
		return r.ExtentSize
	}
	return defaultExtentSize
}

// checkBlockers refuses to delete or replace a VG or pool that holds LVs
// the plan does not delete.
func (pl *planner) checkBlockers(kind, vg, pool string) {
	id := vg
	if pool != "" {
		id += "/" + pool
	}
	// A replacement keeps the configured volumes inside, which it would
	// destroy. A deletion (null config) comes with the deletion of every
	// managed volume inside, ordered first by DependsOn, so only what
	// rigplan does not manage blocks it.
	// The cache agent's snapshots are rigplan's data: they go with their
	// pool, which deleting needs -allow-data-loss.
	verb, deleted := "replace", pl.snap.beingDeleted
	if pl.deleting() {
		verb, deleted = "delete", func(m marks) bool { return m.owns() || m.CacheSnapshot }
	}
	if b := pl.snap.blockers(vg, pool, deleted); len(b) > 0 {
		pl.resp.Diagnostics = append(pl.resp.Diagnostics, blockedDiag(pl.req.Addr, id, kind, verb, b))
	}
	if n := len(cacheSnapshots(pl.snap.lvsIn(vg, pool))); pl.deleting() && n > 0 {
		pl.resp.Diagnostics = append(pl.resp.Diagnostics, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  fmt.Sprintf("Deleting %s %s deletes %d cache snapshots", kind, id, n),
			Detail:   fmt.Sprintf("%s holds %d snapshots the cache agent made (rigplan cache ls lists them); they are deleted with it.", id, n),
		})
	}
}

// cacheSnapshots are the cache agent's snapshots among lvs.
func cacheSnapshots(lvs []*lvRow) []*lvRow {
	var out []*lvRow
	for _, lv := range lvs {
		if parseMarks(lv.Tags).CacheSnapshot {
			out = append(out, lv)
		}
	}
	return out
}
