package view

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// GitHub Actions turns lines like
//
//	::error file=main.hcl,line=3,col=3,endLine=3,endColumn=6,title=Unsupported argument::An argument named …
//
// on a step's stdout into annotations on the pull request's diff
// ("Workflow commands for GitHub Actions"). The escaping is
// @actions/core's (packages/core/src/command.ts): escapeData for the
// message replaces % CR LF with %25 %0D %0A; escapeProperty for property
// values also replaces : and , with %3A and %2C. % goes first so that the
// escapes themselves are not escaped again.
//
// Annotations carry columns only within one line (the checks API ignores
// start_column/end_column when start_line != end_line), so a multi-line
// range gives lines only. GitHub's endColumn is the last column, where
// HCL's range end is one past it; likewise a range that ends at the start
// of a line ends on the line before.

// writeGitHub prints one workflow command per diagnostic.
func writeGitHub(w io.Writer, diags hcl.Diagnostics) error {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(githubCommand(d))
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write diagnostics: %w", err)
	}
	return nil
}

// githubCommand renders one diagnostic as a workflow command, without the
// trailing newline.
func githubCommand(d *hcl.Diagnostic) string {
	cmd := "error"
	if d.Severity == hcl.DiagWarning {
		cmd = "warning"
	}
	var props []string
	if r := d.Subject; r != nil {
		props = append(props, "file="+escapeProperty(r.Filename), "line="+strconv.Itoa(r.Start.Line))
		endLine, endCol := max(r.End.Line, r.Start.Line), r.End.Column-1
		if endLine > r.Start.Line && r.End.Column == 1 {
			// The range stops just after a newline (parsers point at a
			// missing token this way): it ends on the line before.
			endLine, endCol = endLine-1, r.Start.Column
		}
		if endLine == r.Start.Line {
			endCol = max(endCol, r.Start.Column)
			props = append(props,
				"col="+strconv.Itoa(r.Start.Column),
				"endLine="+strconv.Itoa(endLine),
				"endColumn="+strconv.Itoa(endCol))
		} else {
			props = append(props, "endLine="+strconv.Itoa(endLine))
		}
	}
	props = append(props, "title="+escapeProperty(d.Summary))
	// The message is what the annotation shows in full; fall back to the
	// summary so it is never empty.
	msg := d.Detail
	if msg == "" {
		msg = d.Summary
	}
	return "::" + cmd + " " + strings.Join(props, ",") + "::" + escapeData(msg)
}

// escapeData escapes a workflow command's message.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a workflow command's property value.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
