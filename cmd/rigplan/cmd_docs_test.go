package main

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// committedReference is docs/reference, from this package's directory.
const committedReference = "../../docs/reference"

// runDocs runs `rigplan docs` with args through the real command tree.
func runDocs(t *testing.T, args ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdin: bytes.NewReader(nil), stdout: &stdout, stderr: &stderr, env: os.Environ()}
	if code := a.run(append([]string{"docs"}, args...)); code != 0 {
		t.Fatalf("rigplan docs %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
}

// TestReferenceUpToDate regenerates the resource reference and compares
// it with the committed pages, so that a schema change without `make docs`
// fails here rather than misleading operators.
func TestReferenceUpToDate(t *testing.T) {
	dir := t.TempDir()
	runDocs(t, "-reference", dir)
	if diff := firstDifference(t, dir, committedReference); diff != "" {
		t.Fatalf("docs/reference is out of date: run `make docs`\n%s", diff)
	}
}

// firstDifference compares the files of two directories and describes the
// first that differs, or returns "".
func firstDifference(t *testing.T, generated, committed string) string {
	t.Helper()
	gen, com := dirFiles(t, generated), dirFiles(t, committed)
	names := make([]string, 0, len(gen)+len(com))
	for name := range gen {
		names = append(names, name)
	}
	for name := range com {
		if _, ok := gen[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		g, inGen := gen[name]
		c, inCom := com[name]
		switch {
		case !inCom:
			return name + ": generated but not in docs/reference"
		case !inGen:
			return name + ": in docs/reference but no longer generated (remove it)"
		case g != c:
			return name + ": " + firstLineDifference(g, c)
		}
	}
	return ""
}

// dirFiles reads every file of dir by name; a missing dir has none.
func dirFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	return files
}

// firstLineDifference names the first line where generated and committed
// text differ, and shows both.
func firstLineDifference(generated, committed string) string {
	g, c := strings.Split(generated, "\n"), strings.Split(committed, "\n")
	for i := 0; i < max(len(g), len(c)); i++ {
		var gl, cl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(c) {
			cl = c[i]
		}
		if gl != cl || i >= len(g) || i >= len(c) {
			return fmt.Sprintf("line %d differs\n  generated: %s\n  committed: %s", i+1, gl, cl)
		}
	}
	return "differs"
}

// TestManPagesAndCompletions generates the man pages and completion
// scripts as `make build` does: a page for every command help lists
// (cobra's completion command included, the hidden docs command not), and
// a bash script bash can parse.
func TestManPagesAndCompletions(t *testing.T) {
	dir := t.TempDir()
	man, completion := filepath.Join(dir, "man"), filepath.Join(dir, "completion")
	runDocs(t, "-man", man, "-completion", completion)

	var want []string
	root := (&app{}).rootCmd()
	root.InitDefaultCompletionCmd()
	visitCommands(root, func(c *cobra.Command) {
		if c == root || (c.IsAvailableCommand() && !c.IsAdditionalHelpTopicCommand()) {
			want = append(want, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")
		}
	})
	slices.Sort(want)
	got := slices.Sorted(maps.Keys(dirFiles(t, man)))
	if !slices.Equal(got, want) {
		t.Errorf("man pages:\n got %v\nwant %v", got, want)
	}
	for _, page := range []string{"rigplan.1", "rigplan-plan.1", "rigplan-cache-serve.1", "rigplan-completion-bash.1"} {
		if !slices.Contains(got, page) {
			t.Errorf("no man page %s", page)
		}
	}
	if slices.Contains(got, "rigplan-docs.1") {
		t.Error("the hidden docs command has a man page")
	}
	plan := dirFiles(t, man)["rigplan-plan.1"]
	for _, s := range []string{`.TH "RIGPLAN-PLAN" "1"`, "--detailed-exitcode", "\nrigplan plan -out host.plan "} {
		if !strings.Contains(plan, s) {
			t.Errorf("rigplan-plan.1 lacks %q:\n%s", s, plan)
		}
	}

	scripts := dirFiles(t, completion)
	if got := slices.Sorted(maps.Keys(scripts)); !slices.Equal(got, []string{zshCompletionFile, bashCompletionFile, fishCompletionFile}) {
		t.Errorf("completion scripts: %v", got)
	}
	if !strings.HasPrefix(scripts[zshCompletionFile], "#compdef rigplan") {
		t.Errorf("%s does not start with #compdef rigplan", zshCompletionFile)
	}
	if !strings.Contains(scripts[fishCompletionFile], "complete -c rigplan") {
		t.Errorf("%s has no `complete -c rigplan`", fishCompletionFile)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed: cannot check the bash completion script's syntax with bash -n")
	}
	if out, err := exec.Command(bash, "-n", filepath.Join(completion, bashCompletionFile)).CombinedOutput(); err != nil {
		t.Errorf("bash -n %s: %v\n%s", bashCompletionFile, err, out)
	}
}

// TestDocsHidden keeps the docs command out of the help operators read.
func TestDocsHidden(t *testing.T) {
	var stdout, stderr bytes.Buffer
	a := &app{stdin: bytes.NewReader(nil), stdout: &stdout, stderr: &stderr}
	if code := a.run([]string{"--help"}); code != 0 {
		t.Fatalf("rigplan --help: exit %d\n%s", code, stderr.String())
	}
	if strings.Contains(stdout.String(), "docs") {
		t.Errorf("rigplan --help lists the docs command:\n%s", stdout.String())
	}
	stdout.Reset()
	if code := a.run([]string{"docs"}); code != 1 || !strings.Contains(stderr.String(), "give -reference DIR, -man DIR or -completion DIR") {
		t.Errorf("rigplan docs without a directory: exit %d\n%s", code, stderr.String())
	}
}

func TestManText(t *testing.T) {
	in := "Plan reads DIR.\nNothing is changed.\n  rigplan plan       # review\n  rigplan plan -out F\nAfter.\n\n  indented after a blank\n"
	want := "Plan reads DIR.\nNothing is changed.\n\n    rigplan plan       # review\n    rigplan plan -out F\n\nAfter.\n\n    indented after a blank\n"
	if got := manText(in); got != want {
		t.Errorf("manText:\n got %q\nwant %q", got, want)
	}
}
