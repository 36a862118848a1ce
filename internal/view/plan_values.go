package view

import (
	"sort"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/schema"
)

// diffSymbol classifies one attribute: "+" added, "-" removed, "~" changed,
// " " unchanged, "" absent on both sides.
func diffSymbol(before, after cty.Value) string {
	bNull, aNull := isNull(before), isNull(after)
	switch {
	case bNull && aNull:
		return ""
	case bNull:
		return "+"
	case aNull:
		return "-"
	case before.RawEquals(after):
		return " "
	default:
		return "~"
	}
}

func isNull(v cty.Value) bool {
	return v == cty.NilVal || (v.IsKnown() && v.IsNull())
}

// attrOf reads an attribute of an object that may itself be null.
func attrOf(obj cty.Value, name string) cty.Value {
	if obj == cty.NilVal || obj.IsNull() || !obj.IsKnown() || !obj.Type().IsObjectType() || !obj.Type().HasAttribute(name) {
		if obj != cty.NilVal && !obj.IsKnown() {
			return cty.DynamicVal
		}
		return cty.NilVal
	}
	return obj.GetAttr(name)
}

func lengthOf(v cty.Value) int {
	if isNull(v) || !v.IsKnown() {
		return 0
	}
	return v.LengthInt()
}

func indexOf(coll, key cty.Value) cty.Value {
	if isNull(coll) || !coll.IsKnown() || !coll.HasIndex(key).True() {
		return cty.NilVal
	}
	return coll.Index(key)
}

func unionKeys(a, b cty.Value) []string {
	seen := map[string]bool{}
	for _, v := range []cty.Value{a, b} {
		if isNull(v) || !v.IsKnown() {
			continue
		}
		for k := range v.AsValueMap() {
			seen[k] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isPrimitiveCollection(v cty.Value) bool {
	if isNull(v) || !v.IsWhollyKnown() {
		return false
	}
	ty := v.Type()
	return (ty.IsListType() || ty.IsSetType()) && ty.ElementType().IsPrimitiveType()
}

func elements(v cty.Value) []cty.Value {
	var out []cty.Value
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e)
	}
	return out
}

func containsValue(vs []cty.Value, v cty.Value) bool {
	for _, x := range vs {
		if x.RawEquals(v) {
			return true
		}
	}
	return false
}

func sortedAttrs(attrs []*schema.Attribute) []*schema.Attribute {
	out := append([]*schema.Attribute(nil), attrs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func pathHasPrefix(p, prefix cty.Path) bool {
	return len(p) >= len(prefix) && cty.Path(p[:len(prefix)]).Equals(prefix)
}

// colors applies ANSI colors when writing to a terminal.
type colors bool

func newColors(on bool) colors { return colors(on) }

func (c colors) wrap(code, s string) string {
	if !c || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (c colors) bold(s string) string  { return c.wrap("1", s) }
func (c colors) faint(s string) string { return c.wrap("90", s) }

// action colors a diff symbol the way Terraform does.
func (c colors) action(s string) string {
	switch {
	case s == "+" || s == "  +":
		return c.wrap("32", s)
	case s == "-" || s == "  -" || s == "# forces replacement":
		return c.wrap("31", s)
	case s == "~" || s == "  ~":
		return c.wrap("33", s)
	case s == "-/+":
		return c.wrap("31", "-/") + c.wrap("32", "+")
	}
	return s
}
