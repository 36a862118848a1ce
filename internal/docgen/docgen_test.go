package docgen

import (
	"sort"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/golden"
	"github.com/rigplan/rigplan/schema"
)

// fakeSchemas are two made-up resource types that use every feature the
// pages render: each kind of attribute, defaults of each shape, nested
// blocks of each nesting, validators, data and sensitive values.
func fakeSchemas() []*schema.Resource {
	return []*schema.Resource{
		{
			Type: "thin_disk", Provider: "fake", HoldsData: true,
			Description: "A disk made of `thin air`. It holds whatever you put in it",
			Attributes: []*schema.Attribute{
				{Name: "name", Type: cty.String, Required: true, ForceNew: true, Description: "Name of the disk.",
					Validators: []schema.Validator{schema.OneOf("a", "b")}},
				{Name: "size", Type: cty.String, Optional: true, Default: cty.StringVal("30G"), Description: "Size, e.g. `30G`."},
				{Name: "wait", Type: cty.String, Optional: true, Default: cty.StringVal("1h30m"), Description: "How long to wait"},
				{Name: "options", Type: cty.List(cty.String), Optional: true, Default: cty.ListValEmpty(cty.String)},
				{Name: "mounts", Type: cty.Map(cty.List(cty.String)), Optional: true,
					Default:     cty.MapVal(map[string]cty.Value{"runner-1": cty.ListVal([]cty.Value{cty.StringVal("/cache")})}),
					Description: "Who mounts what | where."},
				{Name: "password", Type: cty.String, Optional: true, Sensitive: true, Description: "A secret."},
				{Name: "chunk", Type: cty.Number, Optional: true, Computed: true, Description: "Picked when unset."},
				{Name: "id", Type: cty.String, Computed: true, Description: "The disk's id."},
			},
			Blocks: []*schema.Block{
				{Name: "retention", Nesting: schema.NestingSingle, Description: "When to delete.",
					Attributes: []*schema.Attribute{
						{Name: "keep", Type: cty.Number, Optional: true, Default: cty.NumberIntVal(3), Description: "Keep N."},
					},
					Blocks: []*schema.Block{{Name: "window", Nesting: schema.NestingList, MaxItems: 2,
						Attributes: []*schema.Attribute{{Name: "from", Type: cty.String, Required: true}}}},
				},
				{Name: "store", Nesting: schema.NestingSingle, MinItems: 1},
				{Name: "share", Nesting: schema.NestingMap, LabelName: "host", MinItems: 1,
					Attributes: []*schema.Attribute{{Name: "read_only", Type: cty.Bool, Optional: true, Default: cty.True}}},
			},
		},
		{
			Type: "agent", Provider: "fake",
			Description: "An agent, e.g. a daemon. Nothing more.",
			Attributes: []*schema.Attribute{
				{Name: "socket", Type: cty.String, Optional: true, Description: "Where it listens."},
			},
		},
	}
}

func TestPage(t *testing.T) {
	golden.Check(t, "testdata/thin_disk.md", Page(fakeSchemas()[0]))
	golden.Check(t, "testdata/agent.md", Page(fakeSchemas()[1]))
}

func TestIndex(t *testing.T) {
	golden.Check(t, "testdata/index.md", Index(fakeSchemas()))
}

func TestFiles(t *testing.T) {
	files := Files(fakeSchemas())
	var names []string
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	if got, want := strings.Join(names, " "), "README.md agent.md thin_disk.md"; got != want {
		t.Errorf("Files wrote %s, want %s", got, want)
	}
	if string(files["agent.md"]) != string(Page(fakeSchemas()[1])) {
		t.Error("Files' agent.md is not Page(agent)")
	}
}

func TestMarkdown(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`no spaces, %, $ or \`, `no spaces, %, $ or \\`},
		{"*.hcl files <EOF", `\*.hcl files \<EOF`},
		{"`a\\b *c*` and *d*", "`a\\b *c*` and \\*d\\*"},
		{"letters, digits and `+ _ . -`", "letters, digits and `+ _ . -`"},
	} {
		if got := markdown(tc.in); got != tc.want {
			t.Errorf("markdown(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFirstSentence(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"One. Two.", "One."},
		{"A volume, e.g. the default one. More.", "A volume, e.g. the default one."},
		{"Runs `a. B` here. Then.", "Runs `a. B` here."},
		{"No full stop", "No full stop"},
		{"  Only one.  ", "Only one."},
		{"Version 2.321.0 or later. Then.", "Version 2.321.0 or later."},
		{"A group of devices. rigplan marks it.", "A group of devices."},
		{"A volume, i.e. a disk. Then.", "A volume, i.e. a disk."},
	} {
		if got := FirstSentence(tc.in); got != tc.want {
			t.Errorf("FirstSentence(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTypeString(t *testing.T) {
	for _, tc := range []struct {
		in   cty.Type
		want string
	}{
		{cty.String, "string"},
		{cty.Number, "number"},
		{cty.Bool, "bool"},
		{cty.List(cty.String), "list(string)"},
		{cty.Set(cty.String), "set(string)"},
		{cty.Map(cty.List(cty.String)), "map(list(string))"},
		{cty.Object(map[string]cty.Type{"b": cty.Number, "a": cty.String}), "object({a=string,b=number})"},
		{cty.DynamicPseudoType, "any"},
	} {
		if got := TypeString(tc.in); got != tc.want {
			t.Errorf("TypeString(%#v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValueString(t *testing.T) {
	for _, tc := range []struct {
		in   cty.Value
		want string
	}{
		{cty.StringVal("30G"), `"30G"`},
		{cty.StringVal(`say "hi" to ${name}`), `"say \"hi\" to $${name}"`},
		{cty.StringVal(""), `""`},
		{cty.True, "true"},
		{cty.NumberIntVal(65536), "65536"},
		{cty.NumberFloatVal(1.5), "1.5"},
		{cty.NullVal(cty.String), "null"},
		{cty.UnknownVal(cty.String), "(known after apply)"},
		{cty.ListValEmpty(cty.String), "[]"},
		{cty.SetValEmpty(cty.String), "[]"},
		{cty.MapValEmpty(cty.String), "{}"},
		{cty.ListVal([]cty.Value{cty.StringVal("-m"), cty.StringVal("reflink=1")}), `["-m", "reflink=1"]`},
		{cty.SetVal([]cty.Value{cty.StringVal("b"), cty.StringVal("a")}), `["a", "b"]`},
		{
			cty.MapVal(map[string]cty.Value{
				"runner-1":        cty.ListVal([]cty.Value{cty.StringVal("/home/runner/cache")}),
				"SYSTEMD_SECCOMP": cty.ListValEmpty(cty.String),
			}),
			`{ SYSTEMD_SECCOMP = [], "runner-1" = ["/home/runner/cache"] }`,
		},
		{cty.MapVal(map[string]cty.Value{"a b": cty.StringVal("x")}), `{ "a b" = "x" }`},
		{cty.ObjectVal(map[string]cty.Value{"keep": cty.NumberIntVal(3), "off": cty.False}), "{ keep = 3, off = false }"},
		{cty.EmptyObjectVal, "{}"},
	} {
		if got := ValueString(tc.in); got != tc.want {
			t.Errorf("ValueString(%#v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
