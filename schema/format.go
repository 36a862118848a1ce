package schema

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/pmezard/go-difflib/difflib"
)

// FormatFile returns src in canonical HCL layout (hclwrite's: indentation,
// aligned equals signs, spacing), the layout `rigplan fmt` writes.
//
// A file with syntax errors is refused, with the parser's diagnostics:
// hclwrite formats token by token and would happily rearrange a broken
// file into a differently broken one, hiding the error the user must fix.
func FormatFile(src []byte, filename string) ([]byte, hcl.Diagnostics) {
	_, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), diags
}

// FormatOptions chooses what FormatDir does besides computing the layout.
type FormatOptions struct {
	// Check leaves every file untouched and only reports which would
	// change: `rigplan fmt -check`, for CI.
	Check bool
	// Diff collects a unified diff of every change: `rigplan fmt -diff`.
	Diff bool
}

// FormatDir formats the *.hcl files in dir, the set `rigplan validate`
// loads: not subdirectories, and not dotfiles (editor backups). dir may
// also name a single file, which is then formatted whatever its name.
//
// changed lists the files whose layout differs (dir joined with the file
// name), in name order; they are rewritten unless opts.Check is set. diff
// holds their unified diffs ("old/FILE" to "new/FILE", as terraform fmt
// labels them) when opts.Diff is set. Files with syntax errors are left
// untouched and reported in diags; the others are still formatted.
func FormatDir(dir string, opts FormatOptions) (changed []string, diff string, diags hcl.Diagnostics) {
	paths, diags := formatTargets(dir)
	var diffs strings.Builder
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			diags = append(diags, fileDiag("Cannot read file", fmt.Sprintf("%v. Check that the file is readable.", err)))
			continue
		}
		out, d := FormatFile(src, path)
		diags = append(diags, d...)
		if d.HasErrors() || string(out) == string(src) {
			continue
		}
		changed = append(changed, path)
		if opts.Diff {
			diffs.WriteString(unifiedDiff(path, src, out))
		}
		if opts.Check {
			continue
		}
		if err := writeKeepingMode(path, out); err != nil {
			diags = append(diags, fileDiag("Cannot write formatted file", fmt.Sprintf("%v. Check that the file is writable, or run with -check to only report.", err)))
		}
	}
	return changed, diffs.String(), diags
}

// formatTargets lists the files FormatDir works on.
func formatTargets(dir string) ([]string, hcl.Diagnostics) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, hcl.Diagnostics{fileDiag("Cannot read configuration directory",
			fmt.Sprintf("%v. Give the directory that holds your *.hcl files.", err))}
	}
	if !fi.IsDir() {
		return []string{dir}, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, hcl.Diagnostics{fileDiag("Cannot read configuration directory",
			fmt.Sprintf("%v. Check the directory's permissions.", err))}
	}
	var paths []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".hcl") || strings.HasPrefix(name, ".") {
			continue
		}
		paths = append(paths, filepath.Join(dir, name))
	}
	return paths, nil
}

// writeKeepingMode rewrites a file in place, so its mode, owner and any
// hard links stay as the user set them.
func writeKeepingMode(path string, data []byte) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, fi.Mode().Perm())
}

// unifiedDiff renders one file's change with three lines of context.
func unifiedDiff(path string, before, after []byte) string {
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        diffLines(before),
		B:        diffLines(after),
		FromFile: "old/" + filepath.ToSlash(path),
		ToFile:   "new/" + filepath.ToSlash(path),
		Context:  3,
	})
	if err != nil {
		// Only a failing writer can make difflib fail; a strings.Builder
		// does not, so this is unreachable in practice.
		return fmt.Sprintf("cannot diff %s: %v\n", path, err)
	}
	return text
}

// diffLines splits text into lines that keep their "\n". Unlike
// difflib.SplitLines it adds no empty line after a final newline; a last
// line without one gets one, so that it prints on a line of its own.
func diffLines(b []byte) []string {
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	} else {
		lines[len(lines)-1] += "\n"
	}
	return lines
}

// fileDiag is a diagnostic about the file system, which has no source range.
func fileDiag(summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail}
}
