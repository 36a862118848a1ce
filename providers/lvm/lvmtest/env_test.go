package lvmtest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/rigplanbin"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/providers/lvm"
	"github.com/rigplan/rigplan/providers/providertest"
	"github.com/rigplan/rigplan/schema"
	"github.com/rigplan/rigplan/testhost"
)

// rigplan is the binary the interrupted-apply tests run and kill, built
// on the host before the kernel boots (building inside it would be slow)
// and found at the same path inside, whose root is the host's.
var rigplan string

func TestMain(m *testing.M) {
	var err error
	if rigplan, err = rigplanbin.NextToTest(!testhost.Inside()); err != nil {
		fmt.Fprintf(os.Stderr, "lvmtest: %v\n", err)
		os.Exit(1)
	}
	os.Exit(testhost.Main(m))
}

// env drives the LVM provider the way the planner does: refresh, plan each
// desired instance, apply what changes, delete what is no longer wanted.
type env struct {
	t       *testing.T
	disks   []string
	run     sysexec.Runner
	p       *lvm.Provider
	schemas map[string]*schema.Resource
	desired []providers.Instance
}

// independent reads the host with a provider of its own, so that checking
// what an apply returned does not reset the run's view that p keeps
// between its Refresh, Plans and Applies (as one CLI run does).
func (e *env) independent() map[string]providers.Object {
	e.t.Helper()
	resp := lvm.New(sysexec.Host{}, lvm.Options{TempDir: e.t.TempDir()}).Refresh(context.Background(), &providers.RefreshRequest{Desired: e.desired})
	if err := errs(resp.Diagnostics); err != nil {
		e.t.Fatalf("refresh: %v", err)
	}
	out := map[string]providers.Object{}
	for _, o := range resp.Objects {
		out[o.Addr.String()] = o
	}
	return out
}

func newEnv(t *testing.T) *env {
	k := testhost.Kernel(t)
	return newEnvWith(t, k.Disks(), sysexec.Host{})
}

func newEnvWith(t *testing.T, disks []string, run sysexec.Runner) *env {
	p := lvm.New(run, lvm.Options{TempDir: t.TempDir()})
	e := &env{t: t, disks: disks, run: run, p: p, schemas: map[string]*schema.Resource{}}
	for _, s := range p.Schemas() {
		e.schemas[s.Type] = s
	}
	return e
}

// config builds a config value as the schema loader decodes one: the given
// attributes, defaults for the others, computed-only ones null.
func (e *env) config(typ string, attrs map[string]cty.Value) cty.Value {
	e.t.Helper()
	return providertest.ConfigOf(e.t, e.schemas[typ], attrs)
}

// want adds or replaces a desired instance.
func (e *env) want(addr string, typ string, attrs map[string]cty.Value) {
	e.t.Helper()
	a, err := schema.ParseAddress(addr)
	if err != nil {
		e.t.Fatal(err)
	}
	inst := providers.Instance{Addr: a, Config: e.config(typ, attrs)}
	for i := range e.desired {
		if e.desired[i].Addr == a {
			e.desired[i] = inst
			return
		}
	}
	e.desired = append(e.desired, inst)
}

// drop removes a desired instance, so that converge deletes its object.
func (e *env) drop(addr string) {
	e.desired = slices.DeleteFunc(e.desired, func(i providers.Instance) bool { return i.Addr.String() == addr })
}

// refresh returns the objects refresh reports, by address; errors fail the
// test.
func (e *env) refresh() map[string]providers.Object {
	e.t.Helper()
	objs, err := e.refreshDiags()
	if err != nil {
		e.t.Fatalf("refresh: %v", err)
	}
	return objs
}

func (e *env) refreshDiags() (map[string]providers.Object, error) {
	resp := e.p.Refresh(context.Background(), &providers.RefreshRequest{Desired: e.desired})
	out := map[string]providers.Object{}
	for _, o := range resp.Objects {
		out[o.Addr.String()] = o
	}
	return out, errs(resp.Diagnostics)
}

// planDelete plans the deletion of a managed object, as the planner does
// for an object whose block is gone: with a null config.
func (e *env) planDelete(addr string) *providers.PlanResponse {
	e.t.Helper()
	o, ok := e.refresh()[addr]
	if !ok {
		e.t.Fatalf("%s is not on the host", addr)
	}
	return e.p.Plan(context.Background(), &providers.PlanRequest{Addr: o.Addr, Config: cty.NullVal(e.schemas[o.Addr.Type].ImpliedType()), Prior: o.State})
}

// plan plans one desired instance against a fresh refresh.
func (e *env) plan(addr string) (*providers.PlanResponse, cty.Value) {
	e.t.Helper()
	objs := e.refresh()
	for _, inst := range e.desired {
		if inst.Addr.String() != addr {
			continue
		}
		prior := cty.NullVal(e.schemas[inst.Addr.Type].ImpliedType())
		if o, ok := objs[addr]; ok {
			if !o.Managed {
				e.t.Fatalf("%s exists (%s) but is not managed", addr, o.ID)
			}
			prior = o.State
		}
		return e.p.Plan(context.Background(), &providers.PlanRequest{Addr: inst.Addr, Config: inst.Config, Prior: prior}), prior
	}
	e.t.Fatalf("%s is not desired", addr)
	return nil, cty.NilVal
}

// converge applies the desired state as one CLI run does (one refresh,
// then plan and apply each instance) and returns the first error. The
// state each apply returned, success or failure, must be what an
// independent refresh reads afterwards (one refresh checks them all: no
// apply changes the state of another object).
func (e *env) converge() error {
	e.t.Helper()
	ctx := context.Background()
	objs, err := e.refreshDiags()
	if err != nil {
		return err
	}
	news := map[string]cty.Value{}
	defer e.checkNews(news)
	for _, inst := range e.desired {
		addr := inst.Addr.String()
		res := e.schemas[inst.Addr.Type]
		prior := cty.NullVal(res.ImpliedType())
		action := providers.Create
		if o, ok := objs[addr]; ok {
			if !o.Managed {
				return fmt.Errorf("%s exists (%s) but is not managed", addr, o.ID)
			}
			prior, action = o.State, providers.Update
		}
		pr := e.p.Plan(ctx, &providers.PlanRequest{Addr: inst.Addr, Config: inst.Config, Prior: prior})
		if pr.Diagnostics.HasErrors() {
			return fmt.Errorf("plan %s: %w", addr, errs(pr.Diagnostics))
		}
		if len(pr.RequiresReplace) > 0 {
			return fmt.Errorf("plan %s: requires replacement of %v", addr, pr.RequiresReplace)
		}
		if action == providers.Update && pr.Planned.RawEquals(prior) {
			continue
		}
		ar := e.p.Apply(ctx, &providers.ApplyRequest{Addr: inst.Addr, Action: action, Prior: prior, Planned: pr.Planned})
		news[addr] = ar.New
		if ar.Diagnostics.HasErrors() {
			return fmt.Errorf("apply %s %s: %w", action, addr, errs(ar.Diagnostics))
		}
		if !ar.New.IsWhollyKnown() || ar.New.IsNull() {
			return fmt.Errorf("apply %s: new state %#v is not wholly known", addr, ar.New)
		}
	}
	return e.deleteOrphansInto(objs, news)
}

// checkNews fails the test unless the new states applies returned (by
// address) are what an independent refresh reads (null when the object is
// not there).
func (e *env) checkNews(news map[string]cty.Value) {
	e.t.Helper()
	if len(news) == 0 {
		return
	}
	objs := e.independent()
	for addr, got := range news {
		after, ok := objs[addr]
		switch {
		case !ok && !got.IsNull():
			e.t.Errorf("%s: apply returned\n%#v\nbut refresh finds no such object", addr, got)
		case ok && !after.State.RawEquals(got):
			e.t.Errorf("%s: apply returned\n%#v\nbut refresh reads\n%#v", addr, got, after.State)
		}
	}
}

// deleteOrphans deletes managed objects no longer desired, contents first.
func (e *env) deleteOrphans(objs map[string]providers.Object) error {
	e.t.Helper()
	news := map[string]cty.Value{}
	defer e.checkNews(news)
	return e.deleteOrphansInto(objs, news)
}

// deleteOrphansInto is deleteOrphans recording the states returned.
func (e *env) deleteOrphansInto(objs map[string]providers.Object, news map[string]cty.Value) error {
	order := map[string]int{"volume": 0, "thin_pool": 1, "volume_group": 2}
	var gone []providers.Object
	for _, o := range objs {
		if o.Managed && !slices.ContainsFunc(e.desired, func(i providers.Instance) bool { return i.Addr == o.Addr }) {
			gone = append(gone, o)
		}
	}
	sort.Slice(gone, func(i, j int) bool { return order[gone[i].Addr.Type] < order[gone[j].Addr.Type] })
	for _, o := range gone {
		res := e.schemas[o.Addr.Type]
		ar := e.p.Apply(context.Background(), &providers.ApplyRequest{Addr: o.Addr, Action: providers.Delete, Prior: o.State, Planned: cty.NullVal(res.ImpliedType())})
		news[o.Addr.String()] = ar.New
		if ar.Diagnostics.HasErrors() {
			return fmt.Errorf("delete %s: %w", o.Addr, errs(ar.Diagnostics))
		}
		if !ar.New.IsNull() {
			return fmt.Errorf("delete %s left %#v", o.Addr, ar.New)
		}
	}
	return nil
}

func (e *env) mustConverge() {
	e.t.Helper()
	if err := e.converge(); err != nil {
		e.t.Fatal(err)
	}
}

// assertNoDiff plans every desired instance: nothing may change.
func (e *env) assertNoDiff() {
	e.t.Helper()
	objs := e.refresh() // one refresh for all, as the planner does
	for _, inst := range e.desired {
		o, ok := objs[inst.Addr.String()]
		if !ok || !o.Managed {
			e.t.Errorf("%s: not found as a managed object after apply: %+v", inst.Addr, o)
			continue
		}
		prior := o.State
		resp := e.p.Plan(context.Background(), &providers.PlanRequest{Addr: inst.Addr, Config: inst.Config, Prior: prior})
		if resp.Diagnostics.HasErrors() || len(resp.RequiresReplace) > 0 || !resp.Planned.RawEquals(prior) {
			e.t.Errorf("%s shows a diff after apply:\n diags %v\n replace %v\n planned %#v\n prior   %#v",
				inst.Addr, resp.Diagnostics, resp.RequiresReplace, resp.Planned, prior)
		}
	}
}
