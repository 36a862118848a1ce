package planner

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// DefaultParallelism bounds how many objects apply changes at once.
const DefaultParallelism = 4

// Engine plans and applies one configuration against one host.
type Engine struct {
	cfg   *schema.Config
	reg   *providers.Registry
	vars  map[string]cty.Value
	graph *graph

	// Parallelism bounds concurrent changes during apply.
	Parallelism int
}

// New prepares an engine: it resolves references and orders the
// configuration, reporting undeclared references and cycles. With errors
// other than a cycle it still returns an engine, so that Validate can
// report the rest of the configuration's mistakes too; planning with it
// is refused by the callers.
func New(cfg *schema.Config, reg *providers.Registry, vars map[string]cty.Value) (*Engine, hcl.Diagnostics) {
	g, diags := buildGraph(cfg, reg)
	if g == nil {
		return nil, diags
	}
	return &Engine{cfg: cfg, reg: reg, vars: vars, graph: g, Parallelism: DefaultParallelism}, diags
}

// Config is the configuration the engine works on.
func (e *Engine) Config() *schema.Config { return e.cfg }

// Validate evaluates the whole configuration without touching the host:
// every resource's computed attributes are unknown, so types, validators
// and references are checked everywhere.
func (e *Engine) Validate() hcl.Diagnostics {
	ev := e.newEvaluator()
	diags := ev.scope.CheckVariables(e.cfg)
	_, d := ev.walk(func(b *block) hcl.Diagnostics {
		_, diags := ev.desired(b)
		return diags
	})
	return append(diags, d...)
}

// desired decodes every instance of a block with computed attributes
// unknown, as they are before planning.
func (ev *evaluator) desired(b *block) ([]providers.Instance, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var out []providers.Instance
	for _, k := range b.keys {
		dec, d := ev.decode(b, k)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		v := providers.FillComputed(b.rb.Schema, dec.Value, cty.NullVal(b.rb.Schema.ImpliedType()))
		ev.set(b, k, v)
		if b.expansion != expandUnknown {
			out = append(out, providers.Instance{Addr: b.addr(k), Config: dec.Value})
		}
	}
	return out, diags
}

// refresh asks every provider, concurrently, for the actual state of what
// it manages and what the configuration names.
func (e *Engine) refresh(ctx context.Context, desired []providers.Instance) (map[schema.Address]providers.Object, []providers.Object, hcl.Diagnostics) {
	byProvider := map[providers.Provider][]providers.Instance{}
	for _, p := range e.reg.Providers() {
		byProvider[p] = nil
	}
	for _, inst := range desired {
		p, _ := e.reg.Provider(inst.Addr.Type)
		byProvider[p] = append(byProvider[p], inst)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var diags hcl.Diagnostics
	managed := map[schema.Address]providers.Object{}
	var unmanaged []providers.Object
	for p, insts := range byProvider {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := p.Refresh(ctx, &providers.RefreshRequest{Desired: insts})
			mu.Lock()
			defer mu.Unlock()
			diags = append(diags, resp.Diagnostics...)
			for _, o := range resp.Objects {
				if !o.Managed {
					unmanaged = append(unmanaged, o)
					continue
				}
				if prev, dup := managed[o.Addr]; dup {
					diags = append(diags, errorf("Two objects claim the same address",
						"Both %s and %s carry rigplan's ownership mark for %s. One was probably copied or renamed by hand; remove the mark from the one that is not meant to be %s.",
						prev.ID, o.ID, o.Addr, o.Addr))
					continue
				}
				managed[o.Addr] = o
			}
		}()
	}
	wg.Wait()
	return managed, unmanaged, diags
}

func errorf(summary, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...)}
}

// ReadManaged lists every object rigplan manages on the host, in address
// order, as the providers read them.
func ReadManaged(ctx context.Context, reg *providers.Registry) ([]providers.Object, hcl.Diagnostics) {
	e := &Engine{reg: reg}
	managed, _, diags := e.refresh(ctx, nil)
	out := make([]providers.Object, 0, len(managed))
	for _, o := range managed {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.Less(out[j].Addr) })
	return out, diags
}

// Edge is a dependency between two resource blocks: From needs To.
type Edge struct{ From, To schema.Address }

// ResourceGraph returns the resource blocks and the dependencies between
// them, looking through locals and variables.
func (e *Engine) ResourceGraph() ([]schema.Address, []Edge) {
	var nodes []schema.Address
	var edges []Edge
	for _, key := range e.graph.order {
		n := e.graph.nodes[key]
		if n.kind != nodeResource {
			continue
		}
		nodes = append(nodes, n.res.Addr())
		for _, d := range e.graph.resourceDeps(key) {
			edges = append(edges, Edge{From: n.res.Addr(), To: d})
		}
	}
	return nodes, edges
}
