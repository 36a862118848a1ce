// Package docgen renders the resource reference (docs/reference) from the
// providers' schemas, so that the documentation cannot drift from the code:
// a page per resource type with its arguments, nested blocks and the
// attributes a configuration can reference, and an index of the types.
//
// The functions are pure: they take schemas and return markdown. The
// hidden `rigplan docs` command writes the files, and a test in cmd/rigplan
// fails when the committed pages differ from what the schemas give.
package docgen

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rigplan/rigplan/schema"
)

// IndexFile is the name of the index page in the reference directory.
const IndexFile = "README.md"

// generatedNote opens every page, so that an editor of a generated file is
// sent to where the text comes from.
const generatedNote = "<!-- Generated from the provider schemas by `make docs`: edit the Description " +
	"strings in providers/*/schema*.go and run it again, not this file. -->\n\n"

// Files renders the whole reference: a page per resource type, named
// TYPE.md, and the index, README.md. Keys are file names.
func Files(resources []*schema.Resource) map[string][]byte {
	out := make(map[string][]byte, len(resources)+1)
	for _, r := range resources {
		out[PageFile(r.Type)] = Page(r)
	}
	out[IndexFile] = Index(resources)
	return out
}

// PageFile is the file name of a resource type's page.
func PageFile(typ string) string { return typ + ".md" }

// Index renders the reference's README.md: every type, sorted, with the
// first sentence of its description.
func Index(resources []*schema.Resource) []byte {
	sorted := append([]*schema.Resource(nil), resources...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Type < sorted[j].Type })

	var b strings.Builder
	b.WriteString(generatedNote)
	b.WriteString("# Resource reference\n\n")
	b.WriteString("Each block of a rigplan configuration declares one resource: `TYPE \"NAME\" { … }`, " +
		"e.g. `volume \"default\" { … }`. These pages list what each type accepts and what other " +
		"blocks can reference; `rigplan validate` checks a configuration against the same schemas.\n\n")
	b.WriteString("| Type | Provider | Description |\n")
	b.WriteString("|---|---|---|\n")
	for _, r := range sorted {
		fmt.Fprintf(&b, "| [`%s`](%s) | %s | %s |\n", r.Type, PageFile(r.Type), r.Provider, tableCell(markdown(FirstSentence(r.Description))))
	}
	b.WriteString("\nThe language itself (variables, locals, outputs, `count`, `for_each`, `depends_on`, " +
		"`lifecycle`, functions) is Terraform's: see the [README](../../README.md) and " +
		"[docs/decisions.md](../decisions.md).\n")
	return []byte(b.String())
}

// FirstSentence returns the text up to the first full stop that ends a
// sentence: one followed by the end of the text or by a space, outside
// backquotes, and not that of "e.g." or "i.e.".
func FirstSentence(text string) string {
	text = strings.TrimSpace(text)
	inCode := false
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '`':
			inCode = !inCode
		case c == '.' && !inCode && (i+1 == len(text) || text[i+1] == ' '):
			if !strings.HasSuffix(text[:i], "e.g") && !strings.HasSuffix(text[:i], "i.e") {
				return text[:i+1]
			}
		}
	}
	return text
}

// markdown escapes, outside code spans, what markdown would otherwise
// read as markup in the schemas' text, which is prose with `code`: a
// backslash, an asterisk, an angle bracket.
func markdown(text string) string {
	var b strings.Builder
	inCode := false
	for _, r := range text {
		switch {
		case r == '`':
			inCode = !inCode
		case !inCode && (r == '\\' || r == '*' || r == '<'):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tableCell makes text safe inside a markdown table cell.
func tableCell(text string) string {
	return strings.ReplaceAll(strings.ReplaceAll(text, "|", `\|`), "\n", " ")
}
