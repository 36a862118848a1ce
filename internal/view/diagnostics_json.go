package view

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcled"
)

// The JSON types below follow `terraform validate -json` field for field
// (internal/command/views/json/diagnostic.go in hashicorp/terraform), so
// editor plugins and CI scripts written for Terraform read rigplan's output
// unchanged. The human renderer is built on the same data, as Terraform's
// is, so the two never disagree about a snippet.

// JSONValidateOutput is the document `rigplan validate -json` prints.
type JSONValidateOutput struct {
	// FormatVersion is "1.0", Terraform's version for this shape.
	FormatVersion string           `json:"format_version"`
	Valid         bool             `json:"valid"`
	ErrorCount    int              `json:"error_count"`
	WarningCount  int              `json:"warning_count"`
	Diagnostics   []JSONDiagnostic `json:"diagnostics"`
}

// JSONDiagnostic is one diagnostic. Range and Snippet are absent when the
// diagnostic has no source location; Snippet alone is absent when the
// file's source is not at hand.
type JSONDiagnostic struct {
	// Severity is "error", "warning" or, for an invalid severity, "unknown".
	Severity string       `json:"severity"`
	Summary  string       `json:"summary"`
	Detail   string       `json:"detail"`
	Range    *JSONRange   `json:"range,omitempty"`
	Snippet  *JSONSnippet `json:"snippet,omitempty"`
}

// JSONRange is the highlighted source range; End is exclusive.
type JSONRange struct {
	Filename string  `json:"filename"`
	Start    JSONPos `json:"start"`
	End      JSONPos `json:"end"`
}

// JSONPos is a position: Line and Column count from 1 (Column in
// characters), Byte from 0.
type JSONPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// JSONSnippet is the source to show with a diagnostic: whole lines, from
// StartLine, with the highlight given as byte offsets into Code.
type JSONSnippet struct {
	// Context names the enclosing block, e.g. `volume "default"`, or is
	// null at the top level.
	Context              *string `json:"context"`
	Code                 string  `json:"code"`
	StartLine            int     `json:"start_line"`
	HighlightStartOffset int     `json:"highlight_start_offset"`
	HighlightEndOffset   int     `json:"highlight_end_offset"`
	// Values says what the references in the failing expression held;
	// always an array, never null, as in Terraform.
	Values []JSONExpressionValue `json:"values"`
}

// JSONExpressionValue is a statement about one reference's value, such as
// Traversal "var.size" and Statement `is "ten"`.
type JSONExpressionValue struct {
	Traversal string `json:"traversal"`
	Statement string `json:"statement"`
}

// NewJSONValidateOutput counts and converts diags; plan and apply output
// can embed the same JSONDiagnostic values.
func NewJSONValidateOutput(diags hcl.Diagnostics, files map[string]*hcl.File) JSONValidateOutput {
	out := JSONValidateOutput{FormatVersion: "1.0", Diagnostics: []JSONDiagnostic{}}
	for _, d := range diags {
		switch d.Severity {
		case hcl.DiagError:
			out.ErrorCount++
		case hcl.DiagWarning:
			out.WarningCount++
		}
		out.Diagnostics = append(out.Diagnostics, NewJSONDiagnostic(d, files))
	}
	out.Valid = out.ErrorCount == 0
	return out
}

// writeJSON prints the validate document, indented as Terraform does.
func writeJSON(w io.Writer, diags hcl.Diagnostics, files map[string]*hcl.File) error {
	b, err := json.MarshalIndent(NewJSONValidateOutput(diags, files), "", "  ")
	if err != nil {
		return fmt.Errorf("encode diagnostics as JSON: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write diagnostics: %w", err)
	}
	return nil
}

// NewJSONDiagnostic converts one diagnostic, cutting its snippet out of
// files (keyed by the file names the diagnostics' ranges use).
func NewJSONDiagnostic(d *hcl.Diagnostic, files map[string]*hcl.File) JSONDiagnostic {
	out := JSONDiagnostic{Severity: "unknown", Summary: d.Summary, Detail: d.Detail}
	switch d.Severity {
	case hcl.DiagError:
		out.Severity = "error"
	case hcl.DiagWarning:
		out.Severity = "warning"
	}
	if d.Subject == nil {
		return out
	}
	highlight := *d.Subject
	if highlight.End == (hcl.Pos{}) {
		highlight.End = highlight.Start // some callers set only Start
	}
	snippet := highlight
	if d.Context != nil {
		snippet = hcl.RangeOver(*d.Context, highlight)
	}
	// An empty range would highlight nothing; widen it to one character.
	if highlight.Empty() {
		highlight.End.Byte++
		highlight.End.Column++
	}
	out.Range = &JSONRange{
		Filename: highlight.Filename,
		Start:    JSONPos{highlight.Start.Line, highlight.Start.Column, highlight.Start.Byte},
		End:      JSONPos{highlight.End.Line, highlight.End.Column, highlight.End.Byte},
	}
	file := files[highlight.Filename]
	if file == nil || file.Bytes == nil {
		return out
	}
	out.Snippet = newSnippet(file, snippet, highlight)
	out.Snippet.Values = expressionValues(d)
	return out
}

// newSnippet cuts the whole lines covered by snippet out of the file and
// locates highlight within them.
func newSnippet(file *hcl.File, snippet, highlight hcl.Range) *JSONSnippet {
	src := file.Bytes
	firstLine, lastLine := snippet.Start.Line, snippet.End.Line
	if lastLine > firstLine && snippet.End.Column == 1 {
		lastLine-- // the range stops at the very start of its last line
	}
	var code strings.Builder
	codeStart := -1
	sc := hcl.NewRangeScanner(src, highlight.Filename, bufio.ScanLines)
	for sc.Scan() {
		line := sc.Range()
		if line.Start.Line < firstLine || line.Start.Line > lastLine {
			continue
		}
		if codeStart < 0 {
			codeStart = line.Start.Byte
		} else {
			code.WriteByte('\n')
		}
		code.Write(line.SliceBytes(src))
	}
	s := &JSONSnippet{Code: code.String(), StartLine: firstLine}
	if codeStart < 0 {
		codeStart = highlight.Start.Byte // past the last line: nothing to show
	}
	if ctx := hcled.ContextString(file, highlight.Start.Byte); ctx != "" {
		s.Context = &ctx
	}
	s.HighlightStartOffset = clamp(highlight.Start.Byte-codeStart, 0, len(s.Code))
	s.HighlightEndOffset = clamp(highlight.End.Byte-codeStart, s.HighlightStartOffset, len(s.Code))
	return s
}

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
