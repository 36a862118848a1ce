package docgen

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/schema"
)

// Page renders one resource type's reference page: its description, its
// arguments, its nested blocks and the attributes other blocks can
// reference.
func Page(r *schema.Resource) []byte {
	noun := strings.ReplaceAll(r.Type, "_", " ")
	var b strings.Builder
	b.WriteString(generatedNote)
	fmt.Fprintf(&b, "# `%s`\n\n", r.Type)
	if r.Description != "" {
		b.WriteString(sentence(r.Description) + "\n\n")
	}
	fmt.Fprintf(&b, "Declared as `%s \"NAME\" { … }`, by the `%s` provider.", r.Type, r.Provider)
	if r.HoldsData {
		fmt.Fprintf(&b, " A %s holds data: rigplan refuses to delete or replace one unless you pass `-allow-data-loss`.", noun)
	}
	b.WriteString("\n\n")

	var args, computed []*schema.Attribute
	for _, a := range r.Attributes {
		if computedOnly(a) {
			computed = append(computed, a)
		} else {
			args = append(args, a)
		}
	}
	if len(args) > 0 {
		b.WriteString("## Arguments\n\n")
		writeAttributes(&b, args, noun)
	}
	if len(r.Blocks) > 0 {
		b.WriteString("## Blocks\n\n")
		writeBlocks(&b, "", r.Blocks, noun)
	}

	b.WriteString("## Attributes you can reference\n\n")
	example := fmt.Sprintf("`%s.NAME.ATTRIBUTE`", r.Type)
	if len(args) > 0 {
		example = fmt.Sprintf("`%s.NAME.%s`", r.Type, args[0].Name)
	}
	if len(computed) == 0 {
		fmt.Fprintf(&b, "Every argument, e.g. %s.\n", example)
	} else {
		fmt.Fprintf(&b, "Every argument (e.g. %s), and these, which rigplan sets:\n\n", example)
		writeAttributes(&b, computed, noun)
	}
	return []byte(strings.TrimRight(b.String(), "\n") + "\n")
}

// computedOnly reports whether the provider sets the attribute and the
// configuration cannot.
func computedOnly(a *schema.Attribute) bool { return a.Computed && !a.Optional && !a.Required }

// writeAttributes writes a list item per attribute: its name, then what
// it is (type, required, default, replacement), its description and what
// its validators accept.
func writeAttributes(b *strings.Builder, attrs []*schema.Attribute, noun string) {
	for _, a := range attrs {
		fmt.Fprintf(b, "- **`%s`**: %s\n", a.Name, attributeFacts(a, noun))
		if a.Description != "" {
			fmt.Fprintf(b, "  %s\n", sentence(a.Description))
		}
		for _, v := range a.Validators {
			if v.Description != "" {
				fmt.Fprintf(b, "  Valid values: %s\n", sentence(v.Description))
			}
		}
	}
	b.WriteString("\n")
}

// attributeFacts is the first line of an attribute's item, e.g.
// "`bool`, optional, default `true`."
func attributeFacts(a *schema.Attribute, noun string) string {
	facts := []string{"`" + TypeString(a.Type) + "`"}
	switch {
	case a.Required:
		facts = append(facts, "required")
	case a.Optional:
		facts = append(facts, "optional")
	case a.Computed:
		facts = append(facts, "set by rigplan")
	}
	if a.Default != cty.NilVal && !a.Default.IsNull() {
		facts = append(facts, "default `"+ValueString(a.Default)+"`")
	}
	if a.Sensitive {
		facts = append(facts, "sensitive (never printed)")
	}
	s := strings.Join(facts, ", ") + "."
	if a.ForceNew {
		s += " Changing it replaces the " + noun + "."
	}
	return s
}

// writeBlocks writes a section per nested block, then its own nested
// blocks, named by their path (`outer.inner`).
func writeBlocks(b *strings.Builder, prefix string, blocks []*schema.Block, noun string) {
	for _, blk := range blocks {
		path := prefix + blk.Name
		fmt.Fprintf(b, "### `%s`\n\n", path)
		b.WriteString(nestingRule(blk) + "\n\n")
		if blk.Description != "" {
			b.WriteString(sentence(blk.Description) + "\n\n")
		}
		if len(blk.Attributes) > 0 {
			writeAttributes(b, blk.Attributes, noun)
		}
		writeBlocks(b, path+".", blk.Blocks, noun)
	}
}

// nestingRule says how many of a block may appear, and how it is written.
func nestingRule(blk *schema.Block) string {
	switch blk.Nesting {
	case schema.NestingList:
		return fmt.Sprintf("Any number of `%s { … }` blocks%s, in order.", blk.Name, itemBounds(blk))
	case schema.NestingMap:
		label := strings.ToUpper(blk.LabelName)
		if label == "" {
			label = "NAME"
		}
		return fmt.Sprintf("Any number of `%s \"%s\" { … }` blocks%s, one per %s.", blk.Name, label, itemBounds(blk), label)
	default:
		if blk.MinItems > 0 {
			return fmt.Sprintf("Required: one `%s { … }` block.", blk.Name)
		}
		return fmt.Sprintf("Optional: at most one `%s { … }` block.", blk.Name)
	}
}

// itemBounds renders a block's MinItems and MaxItems, when set.
func itemBounds(blk *schema.Block) string {
	switch {
	case blk.MinItems > 0 && blk.MaxItems > 0:
		return fmt.Sprintf(" (%d to %d)", blk.MinItems, blk.MaxItems)
	case blk.MinItems > 0:
		return fmt.Sprintf(" (at least %d)", blk.MinItems)
	case blk.MaxItems > 0:
		return fmt.Sprintf(" (at most %d)", blk.MaxItems)
	}
	return ""
}

// sentence trims text, escapes it for markdown and ends it with a full
// stop unless it already ends with punctuation.
func sentence(text string) string {
	text = markdown(strings.TrimSpace(text))
	if text == "" || strings.ContainsAny(text[len(text)-1:], ".!?:") {
		return text
	}
	return text + "."
}

// TypeString renders a type as a configuration would write it in a
// variable's type constraint: `string`, `list(string)`,
// `map(list(string))`, `object({name=string})`.
func TypeString(t cty.Type) string { return typeexpr.TypeString(t) }

// ValueString renders a value on one line in HCL syntax, as an operator
// would write it: `"30G"`, `true`, `["a", "b"]`, `{ key = "value" }`.
func ValueString(v cty.Value) string {
	switch {
	case v == cty.NilVal || v.IsNull():
		return "null"
	case !v.IsKnown():
		return "(known after apply)"
	}
	t := v.Type()
	switch {
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		var elems []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			elems = append(elems, ValueString(e))
		}
		return "[" + strings.Join(elems, ", ") + "]"
	case t.IsMapType() || t.IsObjectType():
		if v.LengthInt() == 0 {
			return "{}"
		}
		m := v.AsValueMap()
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		items := make([]string, len(keys))
		for i, k := range keys {
			items[i] = objectKey(k) + " = " + ValueString(m[k])
		}
		return "{ " + strings.Join(items, ", ") + " }"
	default:
		// Strings (with HCL's escapes, `$${` included), numbers, bools.
		return string(hclwrite.TokensForValue(v).Bytes())
	}
}

// objectKey writes a key bare when it is a plain identifier, quoted
// otherwise. HCL would take `runner-1` bare too, but a reader could see a
// subtraction in it.
func objectKey(k string) string {
	if hclsyntax.ValidIdentifier(k) && !strings.Contains(k, "-") {
		return k
	}
	return string(hclwrite.TokensForValue(cty.StringVal(k)).Bytes())
}
