package view

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// expressionValues tells the reader what the references in a failing
// expression held, e.g. `var.size is "ten"`: with count and for_each the
// same expression runs with many values, and the snippet alone cannot say
// which one failed. Unknown and marked (sensitive) values are left out, as
// in Terraform, so that nothing secret is printed and nobody is misled
// into blaming a value that is merely not known yet.
func expressionValues(d *hcl.Diagnostic) []JSONExpressionValue {
	values := []JSONExpressionValue{}
	if d.Expression == nil || d.EvalContext == nil {
		return values
	}
	seen := map[string]bool{}
	for _, trav := range d.Expression.Variables() {
		val, diags := trav.TraverseAbs(d.EvalContext)
		if diags.HasErrors() || !val.IsWhollyKnown() || val.ContainsMarked() {
			continue
		}
		name := traversalString(trav)
		if seen[name] {
			continue
		}
		seen[name] = true
		values = append(values, JSONExpressionValue{Traversal: name, Statement: "is " + compactValue(val)})
	}
	sort.Slice(values, func(i, j int) bool { return values[i].Traversal < values[j].Traversal })
	return values
}

// traversalString writes a reference the way it appears in HCL source.
func traversalString(trav hcl.Traversal) string {
	var b strings.Builder
	for _, step := range trav {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			b.WriteString("[" + compactValue(s.Key) + "]")
		default:
			b.WriteString("[*]")
		}
	}
	return b.String()
}

// compactValue renders a primitive in full and summarises a collection,
// so that one line stays one line.
func compactValue(v cty.Value) string {
	ty := v.Type()
	switch {
	case v.IsNull():
		return "null"
	case !v.IsKnown():
		return "(known after apply)"
	case ty == cty.String:
		return strconv.Quote(v.AsString())
	case ty == cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case ty == cty.Bool:
		return strconv.FormatBool(v.True())
	case ty.IsObjectType():
		return countOf("object", len(ty.AttributeTypes()), "attribute")
	case ty.IsListType() || ty.IsSetType() || ty.IsMapType() || ty.IsTupleType():
		return countOf(ty.FriendlyName(), v.LengthInt(), "element")
	}
	return ty.FriendlyName()
}

func countOf(what string, n int, noun string) string {
	switch n {
	case 0:
		return fmt.Sprintf("empty %s", what)
	case 1:
		return fmt.Sprintf("%s with 1 %s", what, noun)
	}
	return fmt.Sprintf("%s with %d %ss", what, n, noun)
}
