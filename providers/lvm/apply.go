package lvm

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/bytesize"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// applier carries out one ApplyRequest.
type applier struct {
	p   *Provider
	req *providers.ApplyRequest
	res *schema.Resource
	// snap is the run's view when the apply started: what Plan checked.
	snap  *snapshot
	diags hcl.Diagnostics
}

func (a *applier) run(ctx context.Context, cmd sysexec.Cmd) error {
	_, err := a.p.run.Run(ctx, cmd)
	return err
}

// fail records an error. err usually is a *sysexec.Error, whose text
// carries the command line and LVM's own stderr.
func (a *applier) fail(summary string, err error) {
	a.diags = append(a.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: err.Error()})
}

// value is the request's planned value, or its prior for a delete.
func (a *applier) value() cty.Value {
	if a.req.Action == providers.Delete {
		return a.req.Prior
	}
	return a.req.Planned
}

func (a *applier) str(name string) string {
	s, _ := stringOf(a.value().GetAttr(name))
	return s
}

// bytes reads a size attribute of the value being applied.
func (a *applier) bytes(name string) (int64, bool) {
	s, ok := stringOf(a.value().GetAttr(name))
	if !ok {
		return 0, false
	}
	n, err := bytesize.Parse(s)
	return n, err == nil
}

// respondLV reads the LV back (one lvs call) and reports its state: the
// new state after success, what is left after a failure (null when
// nothing is). The run's view learns the row, for the plans and applies
// still to come.
func (a *applier) respondLV(ctx context.Context, vg, name string) *providers.ApplyResponse {
	row, err := a.p.readLV(ctx, vg, name)
	if err != nil {
		a.fail(fmt.Sprintf("Could not read %s/%s back after the change", vg, name), err)
		return &providers.ApplyResponse{New: a.req.Prior, Diagnostics: a.diags}
	}
	if row == nil && a.req.Action != providers.Delete && !a.diags.HasErrors() {
		a.fail(fmt.Sprintf("%s/%s is gone right after the change", vg, name),
			errors.New("LVM no longer lists it; something else removed it. Plan again"))
	}
	return a.settle(func(s *snapshot) *snapshot { return s.withLV(vg, name, row) }, vg, name)
}

// respondVG reads the group and its PVs back (one vgs call), like
// respondLV.
func (a *applier) respondVG(ctx context.Context, name string) *providers.ApplyResponse {
	row, pvs, err := a.p.readVG(ctx, name)
	if err != nil {
		a.fail(fmt.Sprintf("Could not read volume group %s back after the change", name), err)
		return &providers.ApplyResponse{New: a.req.Prior, Diagnostics: a.diags}
	}
	if row == nil && a.req.Action != providers.Delete && !a.diags.HasErrors() {
		a.fail(fmt.Sprintf("Volume group %s is gone right after the change", name),
			errors.New("LVM no longer lists it; something else removed it. Plan again"))
	}
	return a.settle(func(s *snapshot) *snapshot { return s.withVG(name, row, pvs) }, name, "")
}

// respondGone reports an object that this apply removed, or failed to
// create, without reading the host: LVM's own exit status said so.
func (a *applier) respondGone(vg, lv string) *providers.ApplyResponse {
	if a.req.Addr.Type == typeVG {
		return a.settle(func(s *snapshot) *snapshot { return s.withVG(vg, nil, nil) }, vg, "")
	}
	return a.settle(func(s *snapshot) *snapshot { return s.withLV(vg, lv, nil) }, vg, lv)
}

// settle records a change in the run's view and reports the object's
// state after it.
func (a *applier) settle(change func(*snapshot) *snapshot, vg, lv string) *providers.ApplyResponse {
	a.p.updateView(change)
	return &providers.ApplyResponse{New: a.stateIn(change(a.snap), vg, lv), Diagnostics: a.diags}
}

// stateIn is the object's state in a snapshot, spelled like the plan.
func (a *applier) stateIn(snap *snapshot, vg, lv string) cty.Value {
	cfg := a.req.Planned
	if cfg.IsNull() {
		cfg = a.req.Prior
	}
	b := newBuilder(snap, a.p.host, []providers.Instance{{Addr: a.req.Addr, Config: cfg}})
	defer func() { a.diags = append(a.diags, b.diags...) }()
	if a.req.Addr.Type == typeVG {
		if row := snap.vg(vg); row != nil {
			return b.vgState(row, cfg)
		}
	} else if row := snap.lv(vg, lv); row != nil {
		return b.lvState(row, a.req.Addr.Type, cfg)
	}
	return cty.NullVal(a.res.ImpliedType())
}

// checkOwned refuses to change or delete an object that does not carry
// this instance's mark in the run's view: the request does not match what
// this run's refresh found.
func (a *applier) checkOwned(tags []string, id string) bool {
	m := parseMarks(tags)
	if m.owns() && m.Addr == a.req.Addr {
		return true
	}
	a.fail(fmt.Sprintf("%s does not carry the mark of %s", id, a.req.Addr),
		fmt.Errorf("%s is not rigplan's %s on this host (it was changed or replaced since the plan was made); rigplan leaves it alone. Plan again", id, a.req.Addr))
	return false
}

// tagArgs are the --addtag/--deltag arguments of vgchange and lvchange.
func tagArgs(add, del []string) []string {
	var args []string
	for _, t := range add {
		args = append(args, "--addtag", t)
	}
	for _, t := range del {
		args = append(args, "--deltag", t)
	}
	return args
}

// userTagChange compares an object's user tags with the wanted ones.
func userTagChange(current []string, want []string) (add, del []string) {
	have := map[string]bool{}
	for _, t := range parseMarks(current).User {
		have[t] = true
	}
	wanted := map[string]bool{}
	for _, t := range want {
		wanted[t] = true
		if !have[t] {
			add = append(add, t)
		}
	}
	for t := range have {
		if !wanted[t] {
			del = append(del, t)
		}
	}
	sort.Strings(add)
	sort.Strings(del)
	return add, del
}

// createTags are the tags a new object is made with: rigplan's marks, the
// user's tags and extra facts.
func (a *applier) createTags(extra ...string) ([]string, error) {
	tags, err := ownTags(a.req.Addr)
	if err != nil {
		return nil, err
	}
	for _, t := range extra {
		if t != "" {
			tags = append(tags, t)
		}
	}
	user := stringsOf(a.req.Planned.GetAttr("tags"))
	sort.Strings(user)
	return append(tags, user...), nil
}
