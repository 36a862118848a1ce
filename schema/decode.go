package schema

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// Decoded is one resource instance's config after evaluation.
type Decoded struct {
	// Value conforms to the resource's implied type, without marks;
	// computed-only attributes are null.
	Value cty.Value
	// SensitivePaths are the places where a sensitive input flowed into
	// the value.
	SensitivePaths []cty.Path
}

// DecodeResource evaluates a resource block's body for one instance and
// checks it against the type's schema: types, required attributes,
// validators and cross-attribute rules. Every problem points at the
// attribute that caused it.
func DecodeResource(r *ResourceBlock, ctx *hcl.EvalContext) (*Decoded, hcl.Diagnostics) {
	res := r.Schema
	val, diags := hcldec.Decode(r.Body, res.Spec(), ctx)
	if diags.HasErrors() && (val.IsNull() || !val.IsKnown() || !val.Type().IsObjectType()) {
		return nil, diags
	}
	// Even after an error hcldec returns what it could decode; checking it
	// reports the block's other mistakes in the same run.
	val, pvm := val.UnmarkDeepWithPaths()
	out := &Decoded{Value: completeObject(val, res.Attributes, res.Blocks)}
	for _, pv := range pvm {
		if _, ok := pv.Marks[Sensitive]; ok {
			out.SensitivePaths = append(out.SensitivePaths, pv.Path)
		}
	}
	var problems []*Problem
	checkAttributes(nil, out.Value, res.Attributes, res.Blocks, &problems)
	if res.Validate != nil {
		problems = append(problems, res.Validate(out.Value)...)
	}
	for _, p := range problems {
		diags = append(diags, r.problemDiagnostic(p))
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return out, diags
}

func (r *ResourceBlock) problemDiagnostic(p *Problem) *hcl.Diagnostic {
	sev := hcl.DiagError
	if p.Warning {
		sev = hcl.DiagWarning
	}
	rng := PathRange(r.Body, r.Schema, p.Path)
	if rng == (hcl.Range{}) {
		rng = r.DeclRange
	}
	return &hcl.Diagnostic{
		Severity: sev,
		Summary:  p.Summary,
		Detail:   p.Detail,
		Subject:  rng.Ptr(),
	}
}

// completeObject adds the computed-only attributes, which the decoding spec
// leaves out, as nulls, so the value has the resource's implied type.
func completeObject(v cty.Value, attrs []*Attribute, blocks []*Block) cty.Value {
	if v.IsNull() || !v.IsKnown() {
		return v
	}
	m := v.AsValueMap()
	if m == nil {
		m = map[string]cty.Value{}
	}
	for _, a := range attrs {
		if _, ok := m[a.Name]; !ok {
			m[a.Name] = cty.NullVal(a.Type)
		}
	}
	for _, b := range blocks {
		bv, ok := m[b.Name]
		if !ok || bv.IsNull() || !bv.IsKnown() {
			if !ok {
				m[b.Name] = cty.NullVal(b.impliedType())
			}
			continue
		}
		switch b.Nesting {
		case NestingSingle:
			m[b.Name] = completeObject(bv, b.Attributes, b.Blocks)
		case NestingList:
			m[b.Name] = mapElements(bv, b, cty.ListVal, cty.ListValEmpty)
		case NestingMap:
			elems := map[string]cty.Value{}
			for k, e := range bv.AsValueMap() {
				elems[k] = completeObject(e, b.Attributes, b.Blocks)
			}
			if len(elems) == 0 {
				m[b.Name] = cty.MapValEmpty(objectType(b.Attributes, b.Blocks))
			} else {
				m[b.Name] = cty.MapVal(elems)
			}
		}
	}
	return cty.ObjectVal(m)
}

func mapElements(list cty.Value, b *Block, mk func([]cty.Value) cty.Value, empty func(cty.Type) cty.Value) cty.Value {
	elems := list.AsValueSlice()
	if len(elems) == 0 {
		return empty(objectType(b.Attributes, b.Blocks))
	}
	for i, e := range elems {
		elems[i] = completeObject(e, b.Attributes, b.Blocks)
	}
	return mk(elems)
}

// checkAttributes runs each attribute's validators on known, non-null
// values, descending into nested blocks.
func checkAttributes(prefix cty.Path, v cty.Value, attrs []*Attribute, blocks []*Block, out *[]*Problem) {
	if v.IsNull() || !v.IsKnown() {
		return
	}
	for _, a := range attrs {
		av := v.GetAttr(a.Name)
		if av.IsNull() || !av.IsWhollyKnown() {
			continue
		}
		for _, check := range a.Validators {
			if err := check.Check(av); err != nil {
				*out = append(*out, &Problem{
					Path:    prefix.Copy().GetAttr(a.Name),
					Summary: fmt.Sprintf("Invalid value for %q", a.Name),
					Detail:  err.Error(),
				})
				break
			}
		}
	}
	for _, b := range blocks {
		bv := v.GetAttr(b.Name)
		if bv.IsNull() || !bv.IsKnown() {
			continue
		}
		p := prefix.Copy().GetAttr(b.Name)
		switch b.Nesting {
		case NestingSingle:
			checkAttributes(p, bv, b.Attributes, b.Blocks, out)
		default:
			for it := bv.ElementIterator(); it.Next(); {
				k, e := it.Element()
				checkAttributes(p.Copy().Index(k), e, b.Attributes, b.Blocks, out)
			}
		}
	}
}

// PathRange finds the source range of the attribute or block at path
// inside a resource body, or the zero range when it is not written there
// (a default, or a computed value).
func PathRange(body hcl.Body, res *Resource, path cty.Path) hcl.Range {
	return pathRange(body, res.Attributes, res.Blocks, path)
}

func pathRange(body hcl.Body, attrs []*Attribute, blocks []*Block, path cty.Path) hcl.Range {
	if len(path) == 0 {
		return hcl.Range{}
	}
	step, ok := path[0].(cty.GetAttrStep)
	if !ok {
		return hcl.Range{}
	}
	for _, a := range attrs {
		if a.Name != step.Name {
			continue
		}
		content, _, _ := body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: a.Name}}})
		if attr, ok := content.Attributes[a.Name]; ok {
			return attr.Expr.Range()
		}
		return hcl.Range{}
	}
	for _, b := range blocks {
		if b.Name != step.Name {
			continue
		}
		hdr := hcl.BlockHeaderSchema{Type: b.Name}
		if b.Nesting == NestingMap {
			hdr.LabelNames = []string{"name"}
		}
		content, _, _ := body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{hdr}})
		if len(content.Blocks) == 0 {
			return hcl.Range{}
		}
		blk := content.Blocks[0]
		rest := path[1:]
		if b.Nesting != NestingSingle && len(rest) > 0 {
			if idx, ok := rest[0].(cty.IndexStep); ok {
				blk = pickBlock(content.Blocks, idx.Key)
				rest = rest[1:]
			}
		}
		if blk == nil {
			return hcl.Range{}
		}
		if r := pathRange(blk.Body, b.Attributes, b.Blocks, rest); r != (hcl.Range{}) {
			return r
		}
		return blk.DefRange
	}
	return hcl.Range{}
}

func pickBlock(blocks hcl.Blocks, key cty.Value) *hcl.Block {
	switch {
	case key.Type() == cty.String:
		for _, b := range blocks {
			if len(b.Labels) > 0 && b.Labels[0] == key.AsString() {
				return b
			}
		}
	case key.Type() == cty.Number:
		i, _ := key.AsBigFloat().Int64()
		if i >= 0 && int(i) < len(blocks) {
			return blocks[i]
		}
	}
	return nil
}
