package planner

import (
	"fmt"
	"math/big"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/schema"
)

type expansion int

const (
	expandSingle expansion = iota
	expandCount
	expandForEach
	// expandUnknown is a count or for_each not known yet (validate only).
	expandUnknown
)

// block is the evaluation state of one resource block: how it expands and
// the current value of each instance.
type block struct {
	rb        *schema.ResourceBlock
	node      *node
	expansion expansion
	keys      []schema.Key
	each      map[string]cty.Value // each.value by key
	values    map[schema.Key]cty.Value
}

func (b *block) instance(k schema.Key) schema.Instance {
	if b.expansion == expandUnknown {
		return schema.Instance{Unknown: true, ForEach: b.rb.ForEach != nil}
	}
	return schema.Instance{Key: k, EachValue: b.each[k.Str]}
}

func (b *block) addr(k schema.Key) schema.Address {
	return schema.Address{Type: b.rb.Type, Name: b.rb.Name, Key: k}
}

// evaluator evaluates a configuration's nodes into a Scope.
type evaluator struct {
	e     *Engine
	scope *schema.Scope

	mu     sync.Mutex
	blocks map[string]*block
}

func (e *Engine) newEvaluator() *evaluator {
	return &evaluator{e: e, scope: schema.NewScope(e.cfg, e.vars), blocks: map[string]*block{}}
}

// walk evaluates every node in dependency order, calling onBlock for each
// resource block once it is expanded. A node whose dependency failed is
// skipped, so that one mistake gives one error rather than a cascade.
func (ev *evaluator) walk(onBlock func(b *block) hcl.Diagnostics) ([]*OutputValue, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var outputs []*OutputValue
	failed := map[string]bool{}
	g := ev.e.graph
	for _, key := range g.order {
		n := g.nodes[key]
		if dependsOnFailed(n, failed) {
			failed[key] = true
			continue
		}
		var d hcl.Diagnostics
		switch n.kind {
		case nodeLocal:
			d = ev.evalLocal(n)
		case nodeResource:
			var b *block
			b, d = ev.expand(n)
			if !d.HasErrors() {
				d = append(d, onBlock(b)...)
			}
		case nodeOutput:
			var o *OutputValue
			o, d = ev.evalOutput(n)
			if o != nil {
				outputs = append(outputs, o)
			}
		}
		diags = append(diags, d...)
		if d.HasErrors() {
			failed[key] = true
		}
	}
	return outputs, diags
}

func dependsOnFailed(n *node, failed map[string]bool) bool {
	for _, d := range n.deps {
		if failed[d] {
			return true
		}
	}
	return false
}

func (ev *evaluator) evalLocal(n *node) hcl.Diagnostics {
	v, diags := n.local.Expr.Value(ev.scope.EvalContext(n.refs, schema.Instance{}))
	ev.scope.SetLocal(n.local.Name, v)
	return diags
}

func (ev *evaluator) evalOutput(n *node) (*OutputValue, hcl.Diagnostics) {
	o := n.output
	v, diags := o.Expr.Value(ev.scope.EvalContext(n.refs, schema.Instance{}))
	if diags.HasErrors() {
		return nil, diags
	}
	if v.ContainsMarked() && !o.Sensitive {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Output refers to sensitive values",
			Detail:   fmt.Sprintf("Output %q would print a value derived from a sensitive variable. Add sensitive = true to the output block if that is intended.", o.Name),
			Subject:  o.Expr.Range().Ptr(),
		})
	}
	v, _ = v.UnmarkDeep()
	return &OutputValue{Name: o.Name, Value: v, Sensitive: o.Sensitive}, diags
}

// expand evaluates a block's count or for_each into its instance keys.
func (ev *evaluator) expand(n *node) (*block, hcl.Diagnostics) {
	rb := n.res
	b := &block{rb: rb, node: n, values: map[schema.Key]cty.Value{}, each: map[string]cty.Value{}}
	ctx := ev.scope.EvalContext(n.refs, schema.Instance{})
	var diags hcl.Diagnostics
	switch {
	case rb.Count != nil:
		b.expansion = expandCount
		diags = b.expandCount(ctx)
	case rb.ForEach != nil:
		b.expansion = expandForEach
		diags = b.expandForEach(ctx)
	default:
		b.keys = []schema.Key{{}}
	}
	ev.mu.Lock()
	ev.blocks[n.key] = b
	ev.mu.Unlock()
	return b, diags
}

func (b *block) expandCount(ctx *hcl.EvalContext) hcl.Diagnostics {
	v, diags := b.rb.Count.Value(ctx)
	if diags.HasErrors() {
		return diags
	}
	v, _ = v.Unmark()
	if !v.IsKnown() {
		b.expansion = expandUnknown
		b.keys = []schema.Key{{}}
		return diags
	}
	bad := func(why string) hcl.Diagnostics {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid count",
			Detail:   fmt.Sprintf("count must be a whole number of zero or more; %s.", why),
			Subject:  b.rb.Count.Range().Ptr(),
		})
	}
	if v.IsNull() || v.Type() != cty.Number {
		return bad("this is not a number")
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if acc != big.Exact || n < 0 || n > 100000 {
		return bad(fmt.Sprintf("%s is not", bf.Text('f', -1)))
	}
	for i := 0; i < int(n); i++ {
		b.keys = append(b.keys, schema.IntKey(i))
	}
	return diags
}

func (b *block) expandForEach(ctx *hcl.EvalContext) hcl.Diagnostics {
	v, diags := b.rb.ForEach.Value(ctx)
	if diags.HasErrors() {
		return diags
	}
	v, _ = v.Unmark()
	if !v.IsKnown() {
		b.expansion = expandUnknown
		b.keys = []schema.Key{{}}
		return diags
	}
	bad := func(why string) hcl.Diagnostics {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid for_each argument",
			Detail:   "for_each must be a map, or a set of strings (use toset() on a list); " + why + ".",
			Subject:  b.rb.ForEach.Range().Ptr(),
		})
	}
	ty := v.Type()
	switch {
	case v.IsNull():
		return bad("it is null")
	case ty.IsSetType() && ty.ElementType() == cty.String, ty.IsMapType(), ty.IsObjectType():
	case ty.IsSetType():
		return bad("this set has elements that are not strings")
	default:
		return bad(fmt.Sprintf("a %s was given", ty.FriendlyName()))
	}
	if !v.IsWhollyKnown() && ty.IsSetType() {
		b.expansion = expandUnknown
		b.keys = []schema.Key{{}}
		return diags
	}
	for it := v.ElementIterator(); it.Next(); {
		k, val := it.Element()
		if k.IsNull() {
			return bad("a key is null")
		}
		key := k.AsString()
		if ty.IsSetType() {
			val = k
		}
		b.keys = append(b.keys, schema.StrKey(key))
		b.each[key] = val
	}
	sort.Slice(b.keys, func(i, j int) bool { return b.keys[i].Str < b.keys[j].Str })
	return diags
}

// decode evaluates one instance's config.
func (ev *evaluator) decode(b *block, k schema.Key) (*schema.Decoded, hcl.Diagnostics) {
	ctx := ev.scope.EvalContext(b.node.refs, b.instance(k))
	return schema.DecodeResource(b.rb, ctx)
}

// set records an instance's value and republishes the block's value to the
// scope: an object for a plain block, a tuple for count, an object keyed by
// for_each key.
func (ev *evaluator) set(b *block, k schema.Key, v cty.Value) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	b.values[k] = v
	var whole cty.Value
	switch b.expansion {
	case expandSingle:
		whole = v
	case expandUnknown:
		whole = cty.DynamicVal
	case expandCount:
		elems := make([]cty.Value, len(b.keys))
		for i, key := range b.keys {
			elems[i] = valueOr(b.values, key, b.rb.Schema.ImpliedType())
		}
		whole = cty.TupleVal(elems)
	case expandForEach:
		attrs := make(map[string]cty.Value, len(b.keys))
		for _, key := range b.keys {
			attrs[key.Str] = valueOr(b.values, key, b.rb.Schema.ImpliedType())
		}
		whole = cty.ObjectVal(attrs)
	}
	ev.scope.SetResource(b.rb.Type, b.rb.Name, whole)
}

func valueOr(m map[schema.Key]cty.Value, k schema.Key, ty cty.Type) cty.Value {
	if v, ok := m[k]; ok {
		return v
	}
	return cty.UnknownVal(ty)
}

// block returns the evaluation state of a resource block by key.
func (ev *evaluator) block(key string) *block {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.blocks[key]
}
