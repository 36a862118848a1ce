package schema

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/internal/golden"
)

// formatCases are the inputs under testdata/format that parse; each has
// NAME.hcl.golden beside it with the expected layout.
var formatCases = []string{"aligned.hcl", "canonical.hcl", "comments.hcl"}

func TestFormatFileGolden(t *testing.T) {
	for _, name := range formatCases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "format", name)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, diags := FormatFile(src, name)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			golden.Check(t, path+".golden", got)

			again, _ := FormatFile(got, name)
			if string(again) != string(got) {
				t.Errorf("formatting is not idempotent:\n%s", again)
			}
		})
	}
}

func TestFormatFileCanonicalUnchanged(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "format", "canonical.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := FormatFile(src, "canonical.hcl")
	if string(got) != string(src) {
		t.Errorf("a canonical file changed:\n%s", got)
	}
}

func TestFormatFileRefusesSyntaxErrors(t *testing.T) {
	src := []byte("volume \"x\" {\n  size = \"10G\"\n")
	got, diags := FormatFile(src, "broken.hcl")
	if got != nil {
		t.Errorf("got output %q for a broken file, want none", got)
	}
	if !diags.HasErrors() {
		t.Fatal("no diagnostics for a broken file")
	}
	if rng := diags[0].Subject; rng == nil || rng.Filename != "broken.hcl" {
		t.Errorf("diagnostic %v does not point into broken.hcl", diags[0])
	}
}

// copyFormatInputs copies testdata/format/*.hcl (including the broken
// one) into a fresh directory, plus files FormatDir must ignore.
func copyFormatInputs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	inputs, err := filepath.Glob(filepath.Join("testdata", "format", "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range inputs {
		b, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(in)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeTree(t, dir, map[string]string{
		".backup.hcl":   "a   =   1\n",
		"notes.txt":     "a   =   1\n",
		"sub/inner.hcl": "a   =   1\n",
	})
	return dir
}

func TestFormatDir(t *testing.T) {
	dir := copyFormatInputs(t)
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir) // so that paths, and the diff's labels, are stable
	wantChanged := []string{"aligned.hcl", "comments.hcl"}
	ignored := []string{".backup.hcl", "notes.txt", "sub/inner.hcl", "broken.hcl"}
	snapshot := func() map[string]string {
		m := map[string]string{}
		for _, name := range append(slices.Clone(wantChanged), ignored...) {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			m[name] = string(b)
		}
		return m
	}
	before := snapshot()

	// -check -diff: report, write nothing.
	changed, diff, diags := FormatDir(".", FormatOptions{Check: true, Diff: true})
	if !slices.Equal(changed, wantChanged) {
		t.Errorf("check: changed = %q, want %q", changed, wantChanged)
	}
	if len(diags) != 1 || !strings.Contains(diags[0].Subject.Filename, "broken.hcl") {
		t.Errorf("check: diags = %v, want one error in broken.hcl", diags)
	}
	golden.Check(t, filepath.Join(testdata, "format", "dir.diff.golden"), []byte(diff))
	if after := snapshot(); !maps.Equal(before, after) {
		t.Error("check mode modified files")
	}

	// Write mode: the changed files now hold the golden layout; the rest
	// are untouched, and the file mode is kept.
	changed, diff, _ = FormatDir(".", FormatOptions{})
	if !slices.Equal(changed, wantChanged) {
		t.Errorf("write: changed = %q, want %q", changed, wantChanged)
	}
	if diff != "" {
		t.Errorf("write without Diff returned a diff:\n%s", diff)
	}
	after := snapshot()
	for _, name := range wantChanged {
		golden, err := os.ReadFile(filepath.Join(testdata, "format", name+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		if after[name] != string(golden) {
			t.Errorf("%s after fmt:\n%s\nwant:\n%s", name, after[name], golden)
		}
		if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s lost its mode 0600: %v %v", name, fi.Mode(), err)
		}
	}
	for _, name := range ignored {
		if after[name] != before[name] {
			t.Errorf("%s was modified but must be ignored", name)
		}
	}

	// Formatting formatted files changes nothing.
	if changed, _, _ := FormatDir(".", FormatOptions{Check: true}); len(changed) != 0 {
		t.Errorf("second run: changed = %q, want none", changed)
	}
}

func TestFormatDirSingleFileAndMissing(t *testing.T) {
	dir := copyFormatInputs(t)
	path := filepath.Join(dir, "aligned.hcl")
	changed, _, diags := FormatDir(path, FormatOptions{Check: true})
	if diags.HasErrors() || !slices.Equal(changed, []string{path}) {
		t.Errorf("single file: changed = %q, diags = %v", changed, diags)
	}

	_, _, diags = FormatDir(filepath.Join(dir, "nope"), FormatOptions{})
	if !diags.HasErrors() || diags[0].Summary != "Cannot read configuration directory" {
		t.Errorf("missing dir: diags = %v", diags)
	}
}
