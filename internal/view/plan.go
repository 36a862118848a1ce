package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/planner"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// SchemaFunc looks up a resource type's schema.
type SchemaFunc func(typ string) (*schema.Resource, bool)

// WritePlan prints a plan the way Terraform does: one block per changed
// instance with attribute-level diffs, then a summary line.
func WritePlan(w io.Writer, p *planner.Plan, schemas SchemaFunc, color bool) {
	pal := newColors(color)
	if !p.HasChanges() {
		fmt.Fprintln(w, pal.bold("No changes.")+" The host matches the configuration.")
		writeOutputs(w, p.Outputs, pal)
		return
	}
	fmt.Fprintln(w, "rigplan will perform the following actions:")
	for _, c := range p.Changes {
		if c.Action == providers.NoOp {
			continue
		}
		res, ok := schemas(c.Addr.Type)
		if !ok {
			continue
		}
		fmt.Fprintln(w)
		r := &diffWriter{w: w, pal: pal, change: c}
		r.change1(res)
	}
	add, change, destroy := p.Counts()
	fmt.Fprintf(w, "\n%s %d to add, %d to change, %d to destroy.\n", pal.bold("Plan:"), add, change, destroy)
	writeOutputs(w, p.Outputs, pal)
}

func writeOutputs(w io.Writer, outputs []*planner.OutputValue, pal colors) {
	if len(outputs) == 0 {
		return
	}
	fmt.Fprintln(w, "\nOutputs:")
	for _, o := range outputs {
		fmt.Fprintf(w, "  %s = %s\n", o.Name, FormatOutput(o))
	}
}

// FormatOutput renders an output value, hiding it when it is sensitive.
func FormatOutput(o *planner.OutputValue) string {
	if o.Sensitive {
		return sensitiveValue
	}
	return renderValue(o.Value, "  ")
}

// diffWriter renders one change.
type diffWriter struct {
	w      io.Writer
	pal    colors
	change *planner.Change
	hidden int
}

var headers = map[providers.Action]string{
	providers.Create:  "will be created",
	providers.Update:  "will be updated in-place",
	providers.Replace: "must be replaced",
	providers.Delete:  "will be destroyed",
}

var reasons = map[planner.Reason]string{
	planner.ReasonNotInConfig:      "because %s is not in the configuration",
	planner.ReasonCountIndex:       "because %s's key is no longer in count or for_each",
	planner.ReasonReplaceRequested: "because -replace asked for %s",
}

func (d *diffWriter) change1(res *schema.Resource) {
	c := d.change
	fmt.Fprintf(d.w, "  %s %s\n", d.pal.bold("# "+c.Addr.String()), d.pal.bold(headers[c.Action]))
	if why, ok := reasons[c.Reason]; ok {
		fmt.Fprintf(d.w, "  # (%s)\n", fmt.Sprintf(why, c.Addr))
	}
	sym := map[providers.Action]string{
		providers.Create: "  +", providers.Update: "  ~", providers.Replace: "-/+", providers.Delete: "  -",
	}[c.Action]
	fmt.Fprintf(d.w, "%s %s %q {\n", d.pal.action(sym), c.Addr.Type, c.Addr.Name)
	d.body("    ", nil, res.Attributes, res.Blocks, c.Before, c.After)
	if d.hidden > 0 {
		noun := "attributes"
		if d.hidden == 1 {
			noun = "attribute"
		}
		fmt.Fprintf(d.w, "        %s\n", d.pal.faint(fmt.Sprintf("# (%d unchanged %s hidden)", d.hidden, noun)))
	}
	fmt.Fprintln(d.w, "    }")
}

// body renders the attributes and nested blocks of one object level.
func (d *diffWriter) body(indent string, path cty.Path, attrs []*schema.Attribute, blocks []*schema.Block, before, after cty.Value) {
	type line struct {
		sym, name, value, note string
	}
	var lines []line
	width := 0
	for _, a := range sortedAttrs(attrs) {
		p := path.Copy().GetAttr(a.Name)
		bv, av := attrOf(before, a.Name), attrOf(after, a.Name)
		sym := diffSymbol(bv, av)
		if sym == "" {
			continue
		}
		if sym == " " && d.change.Action != providers.Create && d.change.Action != providers.Delete {
			if a.Name != "name" && a.Name != "id" {
				d.hidden++
				continue
			}
		}
		if d.change.Action == providers.Create {
			sym = "+"
		} else if d.change.Action == providers.Delete {
			sym = "-"
		}
		l := line{sym: sym, name: a.Name, value: d.values(sym, bv, av, indent+"    ", a.Sensitive || d.sensitive(p))}
		if d.forcesReplacement(p) {
			l.note = " " + d.pal.action("# forces replacement")
		}
		width = max(width, len(a.Name))
		lines = append(lines, l)
	}
	for _, l := range lines {
		fmt.Fprintf(d.w, "%s  %s %-*s = %s%s\n", indent, d.pal.action(l.sym), width, l.name, l.value, l.note)
	}
	for _, b := range blocks {
		d.nested(indent, path.Copy().GetAttr(b.Name), b, attrOf(before, b.Name), attrOf(after, b.Name))
	}
}

// nested renders a nested block (single, list or map) element by element.
func (d *diffWriter) nested(indent string, path cty.Path, b *schema.Block, before, after cty.Value) {
	one := func(label string, key cty.Value, bv, av cty.Value) {
		sym := diffSymbol(bv, av)
		if sym == "" {
			return
		}
		if sym == " " && (d.change.Action == providers.Update || d.change.Action == providers.Replace) {
			d.hidden++
			return
		}
		if d.change.Action == providers.Create {
			sym = "+"
		} else if d.change.Action == providers.Delete {
			sym = "-"
		}
		p := path
		if key != cty.NilVal {
			p = path.Copy().Index(key)
		}
		fmt.Fprintf(d.w, "%s  %s %s%s {\n", indent, d.pal.action(sym), b.Name, label)
		d.body(indent+"    ", p, b.Attributes, b.Blocks, bv, av)
		fmt.Fprintf(d.w, "%s    }\n", indent)
	}
	switch b.Nesting {
	case schema.NestingSingle:
		one("", cty.NilVal, before, after)
	case schema.NestingList:
		n := max(lengthOf(before), lengthOf(after))
		for i := 0; i < n; i++ {
			k := cty.NumberIntVal(int64(i))
			one("", k, indexOf(before, k), indexOf(after, k))
		}
	case schema.NestingMap:
		for _, k := range unionKeys(before, after) {
			kv := cty.StringVal(k)
			one(" "+quote(k), kv, indexOf(before, kv), indexOf(after, kv))
		}
	}
}

// values renders the right-hand side of an attribute line.
func (d *diffWriter) values(sym string, bv, av cty.Value, indent string, sensitive bool) string {
	show := func(v cty.Value) string {
		if sensitive && !v.IsNull() && v.IsKnown() {
			return sensitiveValue
		}
		return renderValue(v, indent)
	}
	switch sym {
	case "+", " ":
		return show(av)
	case "-":
		return show(bv) + " " + d.pal.faint("-> null")
	default:
		if !sensitive && isPrimitiveCollection(bv) && isPrimitiveCollection(av) {
			return d.collectionDiff(bv, av, indent)
		}
		return show(bv) + " -> " + show(av)
	}
}

// collectionDiff renders a changed list or set of plain values element by
// element, marking what is added and removed.
func (d *diffWriter) collectionDiff(bv, av cty.Value, indent string) string {
	var b strings.Builder
	b.WriteString("[\n")
	old := elements(bv)
	now := elements(av)
	for _, e := range now {
		sym := " "
		if !containsValue(old, e) {
			sym = "+"
		}
		fmt.Fprintf(&b, "%s  %s %s,\n", indent, d.pal.action(sym), renderValue(e, indent))
	}
	for _, e := range old {
		if !containsValue(now, e) {
			fmt.Fprintf(&b, "%s  %s %s,\n", indent, d.pal.action("-"), renderValue(e, indent))
		}
	}
	b.WriteString(indent + "]")
	return b.String()
}

func (d *diffWriter) forcesReplacement(p cty.Path) bool {
	if d.change.Action != providers.Replace {
		return false
	}
	for _, rp := range d.change.ReplacePaths {
		if rp.Equals(p) {
			return true
		}
	}
	return false
}

func (d *diffWriter) sensitive(p cty.Path) bool {
	for _, sp := range d.change.SensitivePaths {
		if sp.Equals(p) || pathHasPrefix(p, sp) {
			return true
		}
	}
	return false
}
