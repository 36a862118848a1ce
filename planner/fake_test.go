package planner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// memProvider is an in-memory provider for testing the planner's own logic
// (ordering, diffing, guards). Real providers are tested against the real
// host elsewhere.
type memProvider struct {
	mu      sync.Mutex
	objects map[schema.Address]cty.Value
	// failOn makes Apply of that address fail.
	failOn map[schema.Address]bool
	// log records applied operations in order.
	log []string
	// running/maxRunning measure concurrency.
	running, maxRunning atomic.Int32
	serial              int
	// contains records containment reported by Refresh.
	contains map[schema.Address][]schema.Address
	// refuseDelete makes planning the deletion of that address fail, as a
	// provider refuses to delete a pool holding volumes it does not manage.
	refuseDelete map[schema.Address]bool
	// onApply, if set, runs first in every Apply.
	onApply func(ctx context.Context, req *providers.ApplyRequest)
}

var _ providers.Provider = (*memProvider)(nil)

func newMem() *memProvider {
	return &memProvider{
		objects:      map[schema.Address]cty.Value{},
		failOn:       map[schema.Address]bool{},
		contains:     map[schema.Address][]schema.Address{},
		refuseDelete: map[schema.Address]bool{},
	}
}

func (m *memProvider) Name() string { return "mem" }

func (m *memProvider) Schemas() []*schema.Resource {
	return []*schema.Resource{
		{
			Type:      "disk",
			HoldsData: true,
			Attributes: []*schema.Attribute{
				{Name: "name", Type: cty.String, Required: true, ForceNew: true},
				{Name: "size", Type: cty.Number, Optional: true, Default: cty.NumberIntVal(1),
					Validators: []schema.Validator{{Check: func(v cty.Value) error {
						if v.LessThan(cty.NumberIntVal(1)).True() {
							return fmt.Errorf("size must be at least 1")
						}
						return nil
					}}}},
				{Name: "id", Type: cty.String, Computed: true},
			},
		},
		{
			Type: "app",
			Attributes: []*schema.Attribute{
				{Name: "disk", Type: cty.String, Required: true},
				{Name: "label", Type: cty.String, Optional: true},
				{Name: "serial", Type: cty.String, Computed: true},
			},
		},
	}
}

func (m *memProvider) Refresh(_ context.Context, _ *providers.RefreshRequest) *providers.RefreshResponse {
	m.mu.Lock()
	defer m.mu.Unlock()
	resp := &providers.RefreshResponse{}
	for addr, v := range m.objects {
		resp.Objects = append(resp.Objects, providers.Object{Addr: addr, State: v, Managed: true, ID: addr.String(), DependsOn: m.contains[addr]})
	}
	return resp
}

func (m *memProvider) Plan(_ context.Context, req *providers.PlanRequest) *providers.PlanResponse {
	res := m.schema(req.Addr.Type)
	if req.Config.IsNull() {
		resp := &providers.PlanResponse{Planned: req.Config}
		if m.refuseDelete[req.Addr] {
			resp.Diagnostics = hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "cannot delete " + req.Addr.String() + ": it holds something else"}}
		}
		return resp
	}
	resp := providers.DefaultPlan(res, req.Config, req.Prior)
	if req.Addr.Type == "disk" && req.Config.GetAttr("name").IsKnown() {
		// The id is known from the name, as an LVM path is.
		vals := resp.Planned.AsValueMap()
		vals["id"] = cty.StringVal("mem/" + req.Config.GetAttr("name").AsString())
		resp.Planned = cty.ObjectVal(vals)
	}
	return resp
}

func (m *memProvider) Apply(ctx context.Context, req *providers.ApplyRequest) *providers.ApplyResponse {
	if m.onApply != nil {
		m.onApply(ctx, req)
	}
	n := m.running.Add(1)
	defer m.running.Add(-1)
	for {
		cur := m.maxRunning.Load()
		if n <= cur || m.maxRunning.CompareAndSwap(cur, n) {
			break
		}
	}
	time.Sleep(5 * time.Millisecond) // let concurrent ops overlap
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log = append(m.log, fmt.Sprintf("%s %s", req.Action, req.Addr))
	if m.failOn[req.Addr] {
		return &providers.ApplyResponse{New: req.Prior, Diagnostics: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "injected failure"}}}
	}
	if req.Action == providers.Delete {
		delete(m.objects, req.Addr)
		return &providers.ApplyResponse{New: req.Planned}
	}
	if !req.Planned.IsWhollyKnown() && req.Addr.Type != "app" {
		return &providers.ApplyResponse{Diagnostics: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "unknown planned value"}}}
	}
	vals := req.Planned.AsValueMap()
	if req.Addr.Type == "app" && !vals["serial"].IsKnown() {
		m.serial++
		vals["serial"] = cty.StringVal(fmt.Sprintf("s%d", m.serial))
	}
	v := cty.ObjectVal(vals)
	m.objects[req.Addr] = v
	return &providers.ApplyResponse{New: v}
}

func (m *memProvider) schema(typ string) *schema.Resource {
	for _, s := range m.Schemas() {
		if s.Type == typ {
			return s
		}
	}
	panic(typ)
}

// fixture is a configuration directory and a provider to plan it against.
type fixture struct {
	t   *testing.T
	dir string
	mem *memProvider
	reg *providers.Registry
}

func newFixture(t *testing.T, src string) *fixture {
	t.Helper()
	mem := newMem()
	reg, err := providers.NewRegistry(mem)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, dir: t.TempDir(), mem: mem, reg: reg}
	f.write(src)
	return f
}

func (f *fixture) write(src string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, "main.hcl"), []byte(src), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) engine(vars ...string) (*Engine, hcl.Diagnostics) {
	f.t.Helper()
	cfg, diags := schema.Load(f.dir, f.reg)
	if diags.HasErrors() {
		return nil, diags
	}
	var args []schema.InputArg
	for _, v := range vars {
		args = append(args, schema.InputArg{Var: v})
	}
	values, d := cfg.InputValues(nil, args, false)
	if d.HasErrors() {
		return nil, d
	}
	return New(cfg, f.reg, values)
}

func (f *fixture) plan(opts Options) (*Plan, hcl.Diagnostics) {
	f.t.Helper()
	e, diags := f.engine()
	if diags.HasErrors() {
		return nil, diags
	}
	return e.Plan(context.Background(), opts)
}

func (f *fixture) mustPlan(opts Options) *Plan {
	f.t.Helper()
	p, diags := f.plan(opts)
	if diags.HasErrors() {
		f.t.Fatalf("plan: %v", diags)
	}
	return p
}

// mustEnginePlan returns an engine and its plan, for a test to apply.
func (f *fixture) mustEnginePlan(opts Options) (*Engine, *Plan) {
	f.t.Helper()
	e, diags := f.engine()
	if diags.HasErrors() {
		f.t.Fatal(diags)
	}
	p, diags := e.Plan(context.Background(), opts)
	if diags.HasErrors() {
		f.t.Fatal(diags)
	}
	return e, p
}

func (f *fixture) apply(opts Options) (*ApplyResult, hcl.Diagnostics) {
	f.t.Helper()
	e, diags := f.engine()
	if diags.HasErrors() {
		return nil, diags
	}
	p, diags := e.Plan(context.Background(), opts)
	if diags.HasErrors() {
		return nil, diags
	}
	return e.Apply(context.Background(), p, nopHooks{})
}

func (f *fixture) mustApply(opts Options) *ApplyResult {
	f.t.Helper()
	r, diags := f.apply(opts)
	if diags.HasErrors() {
		f.t.Fatalf("apply: %v", diags)
	}
	return r
}

type nopHooks struct{}

func (nopHooks) PreApply(schema.Address, providers.Action, string)                {}
func (nopHooks) PostApply(schema.Address, providers.Action, error, time.Duration) {}

func actions(p *Plan) map[string]string {
	out := map[string]string{}
	for _, c := range p.Changes {
		out[c.Addr.String()] = c.Action.String()
	}
	return out
}
