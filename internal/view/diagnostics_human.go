package view

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	wordwrap "github.com/mitchellh/go-wordwrap"
)

// The human format is Terraform's (internal/command/format/diagnostic.go):
// a rule down the left marks where a diagnostic starts and ends, which
// matters when output is pasted into an issue with other text around it;
// then "Error: summary", "on FILE line N, in BLOCK:", numbered source
// lines, and the detail word-wrapped. Terraform shows the highlighted range
// only with color (underlined); rigplan also marks it with a caret line
// when color is off, since CI logs and pipes are usually colorless and the
// highlight is the most useful part of the snippet.

// ANSI sequences; empty strings when color is off.
type palette struct {
	reset, bold, underline, accent, dim string
}

func newPalette(severity string, color bool) palette {
	if !color {
		return palette{}
	}
	p := palette{reset: "\x1b[0m", bold: "\x1b[1m", underline: "\x1b[4m", dim: "\x1b[90m"}
	switch severity {
	case "error":
		p.accent = "\x1b[31m"
	case "warning":
		p.accent = "\x1b[33m"
	}
	return p
}

// renderHuman renders one diagnostic, ending with a newline. width is the
// terminal width for wrapping the detail; 0 or less disables wrapping.
func renderHuman(d JSONDiagnostic, color bool, width int) string {
	p := newPalette(d.Severity, color)
	var lines []string
	label := ""
	switch d.Severity {
	case "error":
		label = "Error: "
	case "warning":
		label = "Warning: "
	}
	lines = append(lines, p.bold+p.accent+label+p.reset+p.bold+d.Summary+p.reset, "")

	if d.Range != nil {
		if d.Snippet == nil {
			lines = append(lines,
				fmt.Sprintf("  on %s line %d:", d.Range.Filename, d.Range.Start.Line),
				"  (source code not available)")
		} else {
			in := ""
			if d.Snippet.Context != nil {
				in = ", in " + *d.Snippet.Context
			}
			lines = append(lines, fmt.Sprintf("  on %s line %d%s:", d.Range.Filename, d.Range.Start.Line, in))
			lines = append(lines, snippetLines(d.Snippet, p)...)
			lines = append(lines, valueLines(d.Snippet.Values, p)...)
		}
		lines = append(lines, "")
	}

	if d.Detail != "" {
		para := width - 3 // the rule and its space take two cells; keep one spare
		for _, l := range strings.Split(d.Detail, "\n") {
			if width > 0 && para > 0 && !strings.HasPrefix(l, " ") {
				l = wordwrap.WrapString(l, uint(para))
			}
			lines = append(lines, strings.Split(l, "\n")...)
		}
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}

	var b strings.Builder
	b.WriteString(p.accent + "╷" + p.reset + "\n")
	for _, l := range lines {
		if l == "" {
			b.WriteString(p.accent + "│" + p.reset + "\n")
			continue
		}
		b.WriteString(p.accent + "│" + p.reset + " " + l + "\n")
	}
	b.WriteString(p.accent + "╵" + p.reset + "\n")
	return b.String()
}

// snippetLines numbers the snippet's lines and marks the highlighted range:
// underlined with color, with a line of carets below it without.
func snippetLines(s *JSONSnippet, p palette) []string {
	var out []string
	hs, he := s.HighlightStartOffset, s.HighlightEndOffset
	lineStart := 0
	for i, line := range strings.Split(s.Code, "\n") {
		lineEnd := lineStart + len(line)
		gutter := fmt.Sprintf("%4d: ", s.StartLine+i)
		numbered := strings.TrimRightFunc(gutter+line, unicode.IsSpace)
		// The highlight touches this line, its newline included, so that a
		// range pointing at the end of a line still gets marked.
		if hs > lineEnd || he <= lineStart {
			out = append(out, numbered)
			lineStart = lineEnd + 1
			continue
		}
		from, to := clamp(hs-lineStart, 0, len(line)), clamp(he-lineStart, 0, len(line))
		if hs < lineStart {
			// A highlight continued from an earlier line skips indentation.
			from = len(line) - len(strings.TrimLeftFunc(line, unicode.IsSpace))
			to = max(to, from)
		}
		if p.underline != "" {
			mark := line[from:to]
			if mark == "" {
				mark = " " // a point at the end of the line: underline a space
			}
			out = append(out, gutter+line[:from]+p.underline+mark+p.reset+line[to:])
		} else {
			out = append(out, numbered, caretLine(gutter, line, from, to))
		}
		lineStart = lineEnd + 1
	}
	return out
}

// caretLine puts carets under line[from:to], keeping the line's tabs so the
// carets stay aligned however wide the reader's tab stops are. An empty
// range (a highlight on the end of a line) still gets one caret.
func caretLine(gutter, line string, from, to int) string {
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", utf8.RuneCountInString(gutter)))
	for _, r := range line[:from] {
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteString(strings.Repeat("^", max(1, utf8.RuneCountInString(line[from:to]))))
	return b.String()
}

// valueLines renders expression values below the snippet as Terraform does.
func valueLines(values []JSONExpressionValue, p palette) []string {
	if len(values) == 0 {
		return nil
	}
	out := []string{"    " + p.dim + "├────────────────" + p.reset}
	for _, v := range values {
		out = append(out, "    "+p.dim+"│"+p.reset+" "+p.bold+v.Traversal+p.reset+" "+v.Statement)
	}
	return out
}
