package schema

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
)

// ResourceBlock is one resource block of the configuration, e.g.
// `volume "default" { ... }`, with its meta-arguments split from the body
// that the resource type's schema decodes.
type ResourceBlock struct {
	Type   string
	Name   string
	Schema *Resource

	// Count and ForEach are nil when the block does not expand.
	Count   hcl.Expression
	ForEach hcl.Expression

	// DependsOn are explicit ordering edges.
	DependsOn []hcl.Traversal
	// PreventDestroy refuses any plan that would delete or replace the
	// object, whatever flags are given.
	PreventDestroy bool
	// IgnoreChanges lists attributes whose differences from the host are
	// not planned as changes after creation.
	IgnoreChanges []cty.Path
	// IgnoreAllChanges is `ignore_changes = all`.
	IgnoreAllChanges bool

	// Body holds the resource's own attributes and blocks.
	Body hcl.Body

	DeclRange hcl.Range
	TypeRange hcl.Range
}

// Addr is the block's address without an instance key.
func (r *ResourceBlock) Addr() Address { return Address{Type: r.Type, Name: r.Name} }

var resourceMetaSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "count"},
		{Name: "for_each"},
		{Name: "depends_on"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "lifecycle"}},
}

var lifecycleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "prevent_destroy"},
		{Name: "ignore_changes"},
	},
}

func decodeResourceBlock(block *hcl.Block, res *Resource) (*ResourceBlock, hcl.Diagnostics) {
	r := &ResourceBlock{
		Type:      block.Type,
		Name:      block.Labels[0],
		Schema:    res,
		DeclRange: block.DefRange,
		TypeRange: block.TypeRange,
	}
	content, remain, diags := block.Body.PartialContent(resourceMetaSchema)
	r.Body = remain

	if a, ok := content.Attributes["count"]; ok {
		r.Count = a.Expr
	}
	if a, ok := content.Attributes["for_each"]; ok {
		r.ForEach = a.Expr
	}
	if r.Count != nil && r.ForEach != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  `Invalid combination of "count" and "for_each"`,
			Detail:   "A resource block may use count or for_each, not both. Keep the one that matches how you name the instances.",
			Subject:  content.Attributes["for_each"].NameRange.Ptr(),
		})
	}
	if a, ok := content.Attributes["depends_on"]; ok {
		travs, d := decodeTraversalList(a.Expr, "depends_on", "a resource such as volume.default")
		diags = append(diags, d...)
		r.DependsOn = travs
	}
	for _, lb := range content.Blocks {
		diags = append(diags, r.decodeLifecycle(lb)...)
	}
	return r, diags
}

func (r *ResourceBlock) decodeLifecycle(block *hcl.Block) hcl.Diagnostics {
	content, diags := block.Body.Content(lifecycleSchema)
	if a, ok := content.Attributes["prevent_destroy"]; ok {
		diags = append(diags, decodeLiteral(a, &r.PreventDestroy)...)
	}
	a, ok := content.Attributes["ignore_changes"]
	if !ok {
		return diags
	}
	if kw := hcl.ExprAsKeyword(a.Expr); kw == "all" {
		r.IgnoreAllChanges = true
		return diags
	}
	travs, d := decodeTraversalList(a.Expr, "ignore_changes", `an attribute name such as size, or the keyword all`)
	diags = append(diags, d...)
	for _, t := range travs {
		path, err := relativePath(t)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid ignore_changes entry",
				Detail:   err.Error(),
				Subject:  t.SourceRange().Ptr(),
			})
			continue
		}
		if r.Schema != nil && r.Schema.Attribute(t.RootName()) == nil && r.Schema.Block(t.RootName()) == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown attribute in ignore_changes",
				Detail:   fmt.Sprintf("%s blocks have no attribute %q.", r.Type, t.RootName()),
				Subject:  t.SourceRange().Ptr(),
			})
			continue
		}
		r.IgnoreChanges = append(r.IgnoreChanges, path)
	}
	return diags
}

// decodeTraversalList reads `[a.b, c.d]` as traversals without evaluating
// them, the way depends_on and ignore_changes are written.
func decodeTraversalList(expr hcl.Expression, what, example string) ([]hcl.Traversal, hcl.Diagnostics) {
	exprs, diags := hcl.ExprList(expr)
	if diags.HasErrors() {
		return nil, diags
	}
	var out []hcl.Traversal
	for _, e := range exprs {
		t, d := hcl.AbsTraversalForExpr(e)
		if d.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Invalid %s entry", what),
				Detail:   fmt.Sprintf("Each entry of %s must be %s, written without quotes.", what, example),
				Subject:  e.Range().Ptr(),
			})
			continue
		}
		out = append(out, t)
	}
	return out, diags
}

// relativePath turns `retention.keep` into a cty.Path.
func relativePath(t hcl.Traversal) (cty.Path, error) {
	var p cty.Path
	for i, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			p = p.GetAttr(s.Name)
		case hcl.TraverseAttr:
			p = p.GetAttr(s.Name)
		case hcl.TraverseIndex:
			if i == 0 {
				return nil, fmt.Errorf("an attribute path must start with an attribute name")
			}
			p = p.Index(s.Key)
		default:
			return nil, fmt.Errorf("unsupported step in attribute path")
		}
	}
	return p, nil
}

// decodeLiteral decodes an attribute that must be a constant (no references).
func decodeLiteral(a *hcl.Attribute, target any) hcl.Diagnostics {
	return gohcl.DecodeExpression(a.Expr, nil, target)
}
