// Package view renders rigplan's results for people and for programs.
//
// Diagnostics come in three forms: Terraform-style text with source
// snippets for a terminal, `terraform validate -json`'s document for
// editors and scripts, and GitHub Actions workflow commands that become
// annotations on a pull request when `rigplan validate -format=github`
// runs in CI.
package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// DiagFormat selects how WriteDiagnostics renders.
type DiagFormat int

const (
	// Human is Terraform's text layout, with snippets; the default.
	Human DiagFormat = iota
	// JSON is the document `terraform validate -json` prints.
	JSON
	// GitHub is one GitHub Actions workflow command per diagnostic.
	GitHub
)

// String returns the name ParseDiagFormat accepts.
func (f DiagFormat) String() string {
	switch f {
	case Human:
		return "human"
	case JSON:
		return "json"
	case GitHub:
		return "github"
	}
	return fmt.Sprintf("DiagFormat(%d)", int(f))
}

// ParseDiagFormat reads the value of a -format flag.
func ParseDiagFormat(s string) (DiagFormat, error) {
	for _, f := range []DiagFormat{Human, JSON, GitHub} {
		if strings.EqualFold(s, f.String()) {
			return f, nil
		}
	}
	return Human, fmt.Errorf("unknown output format %q; use human, json or github", s)
}

// WriteDiagnostics renders diags in format. files holds the parsed
// configuration, keyed by the file names the diagnostics' ranges carry, and
// supplies the source snippets; a diagnostic without a range, or whose file
// is missing, is rendered without one.
//
// color adds ANSI styling to the human format and should be set only when
// writing to a terminal; width wraps its detail text (0: no wrapping). The
// JSON and GitHub formats ignore both, since programs read them. For
// GitHub, file names are printed as they are: load the configuration with
// names relative to the repository root for annotations to land on the
// right file.
func WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, files map[string]*hcl.File, format DiagFormat, color bool, width int) error {
	switch format {
	case Human:
		var b strings.Builder
		for _, d := range diags {
			b.WriteString(renderHuman(NewJSONDiagnostic(d, files), color, width))
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return fmt.Errorf("write diagnostics: %w", err)
		}
		return nil
	case JSON:
		return writeJSON(w, diags, files)
	case GitHub:
		return writeGitHub(w, diags)
	}
	return fmt.Errorf("unknown diagnostics format %v", format)
}
