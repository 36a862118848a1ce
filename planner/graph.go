package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/rigplan/rigplan/schema"
)

type nodeKind int

const (
	nodeVariable nodeKind = iota
	nodeLocal
	nodeResource
	nodeOutput
)

// node is one named thing of the configuration that others may depend on.
type node struct {
	key  string // "var.x", "local.y", "volume.default", "output.z"
	kind nodeKind
	rng  hcl.Range
	refs []*schema.Reference
	deps []string // keys of the nodes referenced, sorted, unique

	local  *schema.Local
	res    *schema.ResourceBlock
	output *schema.Output
}

// graph is the configuration's dependency graph, in an order where every
// node comes after everything it references.
type graph struct {
	nodes map[string]*node
	order []string
}

// buildGraph resolves every reference of the configuration and orders the
// nodes, reporting undeclared references and cycles with the blocks
// involved.
func buildGraph(cfg *schema.Config, schemas schema.Schemas) (*graph, hcl.Diagnostics) {
	g := &graph{nodes: map[string]*node{}}
	var diags hcl.Diagnostics
	add := func(n *node, travs []hcl.Traversal) {
		refs, d := cfg.References(travs, schemas)
		diags = append(diags, d...)
		n.refs = refs
		seen := map[string]bool{}
		for _, r := range refs {
			if k := r.Key(); k != "" && !seen[k] {
				seen[k] = true
				n.deps = append(n.deps, k)
			}
		}
		sort.Strings(n.deps)
		g.nodes[n.key] = n
	}
	for name, v := range cfg.Variables {
		g.nodes["var."+name] = &node{key: "var." + name, kind: nodeVariable, rng: v.DeclRange}
	}
	for name, l := range cfg.Locals {
		add(&node{key: "local." + name, kind: nodeLocal, rng: l.DeclRange, local: l}, l.Expr.Variables())
	}
	for _, r := range cfg.Resources {
		add(&node{key: r.Addr().String(), kind: nodeResource, rng: r.DeclRange, res: r}, r.ResourceTraversals())
	}
	for name, o := range cfg.Outputs {
		add(&node{key: "output." + name, kind: nodeOutput, rng: o.DeclRange, output: o}, o.Expr.Variables())
	}
	// A reference to something undeclared was reported above; it has no
	// node to depend on.
	for _, n := range g.nodes {
		kept := n.deps[:0]
		for _, d := range n.deps {
			if _, ok := g.nodes[d]; ok {
				kept = append(kept, d)
			}
		}
		n.deps = kept
	}
	diags = append(diags, g.checkMetaRefs()...)
	if cycles := g.cycles(); len(cycles) > 0 {
		for _, c := range cycles {
			diags = append(diags, g.cycleDiagnostic(c))
		}
		return nil, diags
	}
	g.order = g.topoOrder()
	return g, diags
}

// checkMetaRefs refuses each.* and count.* where they have no meaning.
func (g *graph) checkMetaRefs() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, key := range sortedKeys(g.nodes) {
		n := g.nodes[key]
		for _, r := range n.refs {
			switch {
			case r.Kind == schema.RefEach && (n.res == nil || n.res.ForEach == nil):
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  `Reference to "each" in context without for_each`,
					Detail:   "each.key and each.value exist only inside a resource block that sets for_each.",
					Subject:  r.Range.Ptr(),
				})
			case r.Kind == schema.RefCount && (n.res == nil || n.res.Count == nil):
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  `Reference to "count" in non-counted context`,
					Detail:   "count.index exists only inside a resource block that sets count.",
					Subject:  r.Range.Ptr(),
				})
			}
		}
	}
	return diags
}

// cycles finds the strongly connected components with more than one node,
// or a node referencing itself (Tarjan's algorithm).
func (g *graph) cycles() [][]string {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0
	var visit func(k string)
	visit = func(k string) {
		index[k], low[k] = next, next
		next++
		stack = append(stack, k)
		onStack[k] = true
		for _, d := range g.nodes[k].deps {
			if _, seen := index[d]; !seen {
				visit(d)
				low[k] = min(low[k], low[d])
			} else if onStack[d] {
				low[k] = min(low[k], index[d])
			}
		}
		if low[k] != index[k] {
			return
		}
		var scc []string
		for {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[top] = false
			scc = append(scc, top)
			if top == k {
				break
			}
		}
		if len(scc) > 1 || g.refersTo(k, k) {
			sort.Strings(scc)
			out = append(out, scc)
		}
	}
	for _, k := range sortedKeys(g.nodes) {
		if _, seen := index[k]; !seen {
			visit(k)
		}
	}
	return out
}

func (g *graph) refersTo(from, to string) bool {
	for _, d := range g.nodes[from].deps {
		if d == to {
			return true
		}
	}
	return false
}

func (g *graph) cycleDiagnostic(scc []string) *hcl.Diagnostic {
	var lines []string
	for _, k := range scc {
		n := g.nodes[k]
		lines = append(lines, fmt.Sprintf("  %s (%s) refers to %s", k, n.rng, strings.Join(intersect(n.deps, scc), ", ")))
	}
	first := g.nodes[scc[0]]
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Cycle: " + strings.Join(scc, ", "),
		Detail: "These blocks refer to each other, so none of them can be evaluated first:\n" +
			strings.Join(lines, "\n") +
			"\nBreak the cycle by removing one of these references.",
		Subject: first.rng.Ptr(),
	}
}

// topoOrder is Kahn's algorithm with ties broken by key, so that every run
// walks the configuration in the same order.
func (g *graph) topoOrder() []string {
	indeg := map[string]int{}
	users := map[string][]string{}
	for k, n := range g.nodes {
		indeg[k] += 0
		for _, d := range n.deps {
			indeg[k]++
			users[d] = append(users[d], k)
		}
	}
	var ready []string
	for k, d := range indeg {
		if d == 0 {
			ready = append(ready, k)
		}
	}
	sort.Strings(ready)
	order := make([]string, 0, len(g.nodes))
	for len(ready) > 0 {
		k := ready[0]
		ready = ready[1:]
		order = append(order, k)
		var freed []string
		for _, u := range users[k] {
			if indeg[u]--; indeg[u] == 0 {
				freed = append(freed, u)
			}
		}
		sort.Strings(freed)
		ready = mergeSorted(ready, freed)
	}
	return order
}

// resourceDeps returns the resource blocks a node depends on, looking
// through locals and variables to the nearest resources.
func (g *graph) resourceDeps(key string) []schema.Address {
	seen := map[string]bool{}
	var out []schema.Address
	var walk func(k string)
	walk = func(k string) {
		for _, d := range g.nodes[k].deps {
			if seen[d] {
				continue
			}
			seen[d] = true
			if n := g.nodes[d]; n.kind == nodeResource {
				out = append(out, n.res.Addr())
			} else {
				walk(d)
			}
		}
	}
	walk(key)
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

// dependencyClosure lists key's transitive dependencies in evaluation
// order.
func (g *graph) dependencyClosure(key string) []string {
	need := map[string]bool{}
	var mark func(k string)
	mark = func(k string) {
		for _, d := range g.nodes[k].deps {
			if !need[d] {
				need[d] = true
				mark(d)
			}
		}
	}
	mark(key)
	var out []string
	for _, k := range g.order {
		if need[k] {
			out = append(out, k)
		}
	}
	return out
}

func intersect(a, set []string) []string {
	in := map[string]bool{}
	for _, s := range set {
		in[s] = true
	}
	var out []string
	for _, x := range a {
		if in[x] {
			out = append(out, x)
		}
	}
	return out
}

func mergeSorted(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] <= b[j] {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	return append(append(out, a[i:]...), b[j:]...)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
