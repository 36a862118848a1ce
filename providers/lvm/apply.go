package lvm

import (
	"context"
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
	p     *Provider
	req   *providers.ApplyRequest
	res   *schema.Resource
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

// respond re-reads the host and reports the object's state now: the new
// state after success, what is left after a failure (null when nothing is).
func (a *applier) respond(ctx context.Context, vg, lv string) *providers.ApplyResponse {
	snap, err := a.p.read(ctx)
	if err != nil {
		a.fail("Could not read LVM's state after the change", err)
		return &providers.ApplyResponse{New: a.req.Prior, Diagnostics: a.diags}
	}
	return &providers.ApplyResponse{New: a.stateIn(snap, vg, lv), Diagnostics: a.diags}
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
// this instance's mark (anymore): someone retagged or replaced it since
// the plan was made.
func (a *applier) checkOwned(tags []string, id string) bool {
	m := parseMarks(tags)
	if m.owns() && m.Addr == a.req.Addr {
		return true
	}
	a.fail(fmt.Sprintf("%s no longer carries the mark of %s", id, a.req.Addr),
		fmt.Errorf("%s was changed behind rigplan's back since the plan was made; rigplan leaves it alone. Plan again", id))
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
