package schema

import (
	"fmt"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
)

// nameSuggestion returns the candidate closest to a misspelled name, or ""
// when none is close enough to be a likely typo.
func nameSuggestion(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// typeString renders a type the way it is written in HCL, e.g. list(string).
func typeString(ty cty.Type) string {
	if ty == cty.DynamicPseudoType {
		return "any"
	}
	return typeexpr.TypeString(ty)
}

// PathString renders a path inside a resource's value the way it would be
// written in HCL: retention.keep, devices[0], machine["a"].allow.
func PathString(p cty.Path) string {
	var b strings.Builder
	for _, step := range p {
		switch s := step.(type) {
		case cty.GetAttrStep:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Name)
		case cty.IndexStep:
			switch {
			case s.Key.Type() == cty.String:
				fmt.Fprintf(&b, "[%q]", s.Key.AsString())
			case s.Key.Type() == cty.Number:
				fmt.Fprintf(&b, "[%s]", s.Key.AsBigFloat().Text('f', -1))
			default:
				b.WriteString("[…]")
			}
		}
	}
	return b.String()
}

// ParsePath reads a path written by PathString.
func ParsePath(s string) (cty.Path, error) {
	trav, diags := hclsyntax.ParseTraversalAbs([]byte(s), "", hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("%q is not an attribute path", s)
	}
	return relativePath(trav)
}
