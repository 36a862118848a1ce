package view

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// knownAfterApply is printed where a value becomes known only during apply.
const knownAfterApply = "(known after apply)"

// sensitiveValue is printed instead of a sensitive value.
const sensitiveValue = "(sensitive value)"

// renderValue writes a value in HCL syntax, spread over lines indented by
// indent when it is a non-empty collection.
func renderValue(v cty.Value, indent string) string {
	switch {
	case v == cty.NilVal || v.IsNull():
		return "null"
	case !v.IsKnown():
		return knownAfterApply
	}
	v, _ = v.UnmarkDeep()
	ty := v.Type()
	switch {
	case ty == cty.String:
		return quote(v.AsString())
	case ty == cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case ty == cty.Bool:
		return strconv.FormatBool(v.True())
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		if v.LengthInt() == 0 {
			return "[]"
		}
		var b strings.Builder
		b.WriteString("[\n")
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			fmt.Fprintf(&b, "%s    %s,\n", indent, renderValue(e, indent+"    "))
		}
		b.WriteString(indent + "]")
		return b.String()
	case ty.IsMapType() || ty.IsObjectType():
		if v.LengthInt() == 0 {
			return "{}"
		}
		keys, vals := entries(v)
		width := maxLen(keys)
		var b strings.Builder
		b.WriteString("{\n")
		for i, k := range keys {
			fmt.Fprintf(&b, "%s    %-*s = %s\n", indent, width, mapKey(k), renderValue(vals[i], indent+"    "))
		}
		b.WriteString(indent + "}")
		return b.String()
	}
	return v.GoString()
}

// entries lists a map's or object's keys in order with their values.
func entries(v cty.Value) ([]string, []cty.Value) {
	m := v.AsValueMap()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals := make([]cty.Value, len(keys))
	for i, k := range keys {
		vals[i] = m[k]
	}
	return keys, vals
}

func quote(s string) string {
	q := strconv.Quote(s)
	// HCL would read ${ and %{ as templates; escape them as HCL does.
	q = strings.ReplaceAll(q, "${", "$${")
	return strings.ReplaceAll(q, "%{", "%%{")
}

func mapKey(k string) string {
	for i, r := range k {
		ok := r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return quote(k)
		}
	}
	if k == "" {
		return `""`
	}
	return k
}

func maxLen(ss []string) int {
	n := 0
	for _, s := range ss {
		n = max(n, len(mapKey(s)))
	}
	return n
}
