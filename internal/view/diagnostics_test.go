package view

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/golden"
)

// fixture parses the test configuration and builds diagnostics of every
// kind: from the parser, from evaluation (with values), made by hand on
// attribute, element and block ranges, without a range, and pointing at a
// file whose source is not loaded.
func fixture(t *testing.T) (hcl.Diagnostics, map[string]*hcl.File) {
	t.Helper()
	parser := hclparse.NewParser()
	var diags hcl.Diagnostics
	for _, name := range []string{"main.hcl", "tabs.hcl", "broken.hcl"} {
		_, d := parser.ParseHCLFile(filepath.Join("testdata", "diagnostics", name))
		diags = append(diags, d...)
	}
	files := parser.Files()
	mainBody := files[filepath.Join("testdata", "diagnostics", "main.hcl")].Body.(*hclsyntax.Body)
	volume, machine := mainBody.Blocks[1], mainBody.Blocks[2]
	tabsBody := files[filepath.Join("testdata", "diagnostics", "tabs.hcl")].Body.(*hclsyntax.Body)
	labels := tabsBody.Blocks[0].Body.Attributes["labels"].Expr.(*hclsyntax.TupleConsExpr)

	sise := volume.Body.Attributes["sise"]
	diags = append(diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Unsupported argument",
		Detail:   `An argument named "sise" is not expected here. Did you mean "size"? Every argument a volume takes is listed in the volume documentation, with its type and default.`,
		Subject:  sise.NameRange.Ptr(),
	})

	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"var": cty.ObjectVal(map[string]cty.Value{"size": cty.StringVal("ten")}),
	}}
	_, evalDiags := volume.Body.Attributes["size"].Expr.Value(ctx)
	if !evalDiags.HasErrors() {
		t.Fatal("evaluating var.size * 2 with a string did not fail")
	}
	diags = append(diags, evalDiags...)

	diags = append(diags,
		&hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Machine keeps no state",
			Detail:   "With volatile = \"overlay\" every change inside the machine is lost when it stops.",
			Subject:  machine.Range().Ptr(),
		},
		&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect element type",
			Detail:   "Labels are strings; quote the 7.",
			Subject:  labels.Exprs[1].Range().Ptr(),
		},
		&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No configuration files: none, found",
			Detail:   "Directory /etc/rigplan holds no *.hcl files, 100% sure.\nRun rigplan in the directory of your configuration:\n  cd /etc/rigplan && rigplan validate",
		},
		&hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "File vanished",
			Subject: &hcl.Range{Filename: "gone.hcl",
				Start: hcl.Pos{Line: 2, Column: 3, Byte: 10}, End: hcl.Pos{Line: 2, Column: 7, Byte: 14}},
		},
	)
	return diags, files
}

func TestWriteDiagnosticsGolden(t *testing.T) {
	diags, files := fixture(t)
	tests := []struct {
		golden string
		format DiagFormat
		color  bool
	}{
		{"all.human.golden", Human, false},
		{"all.color.golden", Human, true},
		{"all.json.golden", JSON, false},
		{"all.github.golden", GitHub, false},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteDiagnostics(&buf, diags, files, tt.format, tt.color, 72); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "diagnostics", tt.golden), buf.Bytes())
		})
	}
}

// TestJSONSnippetHighlightsSubject checks, for every diagnostic with a
// snippet, that the highlight cut out of the snippet is exactly the
// source text of the subject range.
func TestJSONSnippetHighlightsSubject(t *testing.T) {
	diags, files := fixture(t)
	for _, d := range diags {
		j := NewJSONDiagnostic(d, files)
		if j.Snippet == nil {
			continue
		}
		src := files[d.Subject.Filename].Bytes
		want := string(src[j.Range.Start.Byte:min(j.Range.End.Byte, len(src))])
		got := j.Snippet.Code[j.Snippet.HighlightStartOffset:j.Snippet.HighlightEndOffset]
		if len(got) < len(want) && got == strings.TrimSuffix(want, "\n") {
			want = got // a range ending on a newline past the snippet's last line
		}
		if got != want {
			t.Errorf("%s: highlight %q, want the subject's text %q", d.Summary, got, want)
		}
		if j.Snippet.StartLine != d.Subject.Start.Line {
			t.Errorf("%s: snippet starts on line %d, want %d", d.Summary, j.Snippet.StartLine, d.Subject.Start.Line)
		}
	}
}

func TestJSONCountsAndShape(t *testing.T) {
	warn := &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "w"}
	tests := []struct {
		name                 string
		diags                hcl.Diagnostics
		valid                bool
		errors, warnings, nd int
	}{
		{"none", nil, true, 0, 0, 0},
		{"warnings only are valid", hcl.Diagnostics{warn, warn}, true, 0, 2, 2},
		{"errors", hcl.Diagnostics{warn, {Severity: hcl.DiagError, Summary: "e"}}, false, 1, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteDiagnostics(&buf, tt.diags, nil, JSON, false, 0); err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, buf.String())
			}
			list, ok := raw["diagnostics"].([]any)
			if !ok {
				t.Fatalf("diagnostics is %T, want an array (never null)", raw["diagnostics"])
			}
			if raw["format_version"] != "1.0" || raw["valid"] != tt.valid ||
				raw["error_count"] != float64(tt.errors) || raw["warning_count"] != float64(tt.warnings) || len(list) != tt.nd {
				t.Errorf("got %s", buf.String())
			}
		})
	}
}

func TestHumanWrapsDetail(t *testing.T) {
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "s",
		Detail: strings.Repeat("word ", 40) + "\n    an indented line is never wrapped even when it is long, like this one"}
	for _, width := range []int{40, 80} {
		var buf bytes.Buffer
		if err := WriteDiagnostics(&buf, hcl.Diagnostics{d}, nil, Human, false, width); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			if utf8.RuneCountInString(line) > width && !strings.HasPrefix(line, "│     an indented") {
				t.Errorf("width %d: line %q is %d wide", width, line, utf8.RuneCountInString(line))
			}
		}
		if !strings.Contains(buf.String(), "│     an indented line is never wrapped even when it is long, like this one\n") {
			t.Errorf("width %d: indented line was wrapped:\n%s", width, buf.String())
		}
	}
}

func TestGitHubEscaping(t *testing.T) {
	tests := []struct{ in, data, prop string }{
		{"plain", "plain", "plain"},
		{"100%", "100%25", "100%25"},
		{"a\r\nb", "a%0D%0Ab", "a%0D%0Ab"},
		{"k: v, w", "k: v, w", "k%3A v%2C w"},
		{"%0A", "%250A", "%250A"},
	}
	for _, tt := range tests {
		if got := escapeData(tt.in); got != tt.data {
			t.Errorf("escapeData(%q) = %q, want %q", tt.in, got, tt.data)
		}
		if got := escapeProperty(tt.in); got != tt.prop {
			t.Errorf("escapeProperty(%q) = %q, want %q", tt.in, got, tt.prop)
		}
	}
}

func TestGitHubCommandColumns(t *testing.T) {
	pos := func(line, col int) hcl.Pos { return hcl.Pos{Line: line, Column: col} }
	tests := []struct {
		name string
		rng  *hcl.Range
		want string
	}{
		{"one line: endColumn is inclusive", &hcl.Range{Filename: "a.hcl", Start: pos(3, 3), End: pos(3, 7)},
			"::error file=a.hcl,line=3,col=3,endLine=3,endColumn=6,title=T::D"},
		{"empty range", &hcl.Range{Filename: "a.hcl", Start: pos(3, 3), End: pos(3, 3)},
			"::error file=a.hcl,line=3,col=3,endLine=3,endColumn=3,title=T::D"},
		{"several lines: no columns", &hcl.Range{Filename: "a.hcl", Start: pos(3, 3), End: pos(5, 2)},
			"::error file=a.hcl,line=3,endLine=5,title=T::D"},
		{"ends at the start of the next line", &hcl.Range{Filename: "a.hcl", Start: pos(2, 13), End: pos(3, 1)},
			"::error file=a.hcl,line=2,col=13,endLine=2,endColumn=13,title=T::D"},
		{"no range", nil, "::error title=T::D"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := githubCommand(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "T", Detail: "D", Subject: tt.rng})
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseDiagFormat(t *testing.T) {
	for _, f := range []DiagFormat{Human, JSON, GitHub} {
		got, err := ParseDiagFormat(strings.ToUpper(f.String()))
		if err != nil || got != f {
			t.Errorf("ParseDiagFormat(%q) = %v, %v", f.String(), got, err)
		}
	}
	if _, err := ParseDiagFormat("xml"); err == nil || !strings.Contains(err.Error(), "use human, json or github") {
		t.Errorf("ParseDiagFormat(xml) error = %v", err)
	}
}
