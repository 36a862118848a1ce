package protocol

import (
	"os"
	"strings"
	"testing"
)

// The original post's requests (testdata/README.md) must parse unchanged.

const (
	// lockHash stands for ${{ hashFiles('Cargo.lock','Cargo.toml') }}; it
	// is the hash in the post's own lvs output.
	lockHash = "dc5e8c5be193d4952bceae567213b9007f5a9fa5bfd85c1dd9a8a4a6cb759422"
	// refName stands for ${{ github.ref_name }}: a branch with a slash and
	// non-ASCII letters.
	refName = "feature/ünïcode-branch"
)

// expandActions does what GitHub Actions does to a run: block before the
// shell sees it.
func expandActions(s string) string {
	s = strings.ReplaceAll(s, "${{ hashFiles('Cargo.lock','Cargo.toml') }}", lockHash)
	return strings.ReplaceAll(s, "${{ github.ref_name }}", refName)
}

// heredocBody returns the lines between "<<EOF" and "EOF", as written.
func heredocBody(t *testing.T, script string) string {
	t.Helper()
	var body []string
	in := false
	for line := range strings.Lines(script) {
		switch {
		case !in && strings.Contains(line, "<<EOF"):
			in = true
		case in && strings.TrimSpace(line) == "EOF":
			return strings.Join(body, "")
		case in:
			body = append(body, line)
		}
	}
	t.Fatalf("no heredoc in %q", script)
	return ""
}

// runBlock returns the body of the first YAML "run: |" block in doc,
// without its indentation, the way a YAML parser hands it to the shell.
func runBlock(t *testing.T, doc string) string {
	t.Helper()
	lines := strings.SplitAfter(doc, "\n")
	for i, line := range lines {
		if !strings.HasSuffix(strings.TrimRight(line, "\n"), "run: |") {
			continue
		}
		first := lines[i+1]
		indent := first[:len(first)-len(strings.TrimLeft(first, " "))]
		var b strings.Builder
		for _, l := range lines[i+1:] {
			if !strings.HasPrefix(l, indent) {
				break
			}
			b.WriteString(strings.TrimPrefix(l, indent))
		}
		return b.String()
	}
	t.Fatalf("no run: | block in %q", doc)
	return ""
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// blogExamples are the post's requests and what they must parse to.
// script is what the shell runs: the snippet, or the YAML run: block.
func blogExamples(t *testing.T) []struct {
	name, script string
	want         *Request
} {
	return []struct {
		name, script string
		want         *Request
	}{
		{
			"plain request", readTestdata(t, "blog-request.sh"),
			mountReq("/home/ghrunner/cache", [][]string{{"linux", "dc5e8c"}, {"linux"}}, "linux", "dc5e8c"),
		},
		{
			"workflow step", expandActions(runBlock(t, readTestdata(t, "blog-workflow-step.yml"))),
			mountReq("/home/ghrunner/cache", [][]string{{"linux", lockHash}, {"linux", refName}, {"linux"}}, "linux", refName, lockHash),
		},
		{
			"summary workflow", expandActions(runBlock(t, readTestdata(t, "blog-summary-workflow.yml"))),
			mountReq("/home/ghrunner/cache", [][]string{{"linux", lockHash}, {"linux", refName}}, "linux", refName, lockHash),
		},
	}
}

func TestBlogRequests(t *testing.T) {
	for _, ex := range blogExamples(t) {
		t.Run(ex.name, func(t *testing.T) {
			body := heredocBody(t, ex.script)
			got, err := ReadRequest(strings.NewReader(body), Limits{})
			if err != nil {
				t.Fatalf("ReadRequest(%q): %v", body, err)
			}
			if !sameRequest(got, ex.want) {
				t.Errorf("ReadRequest(%q)\n got %v\nwant %v", body, got, ex.want)
			}
		})
	}
}

// TestBlogRequestsIndented reads the heredocs as they stand in the files,
// YAML indentation and all: a step written with a different block style
// hands the shell indented lines, and they must mean the same.
func TestBlogRequestsIndented(t *testing.T) {
	for _, tt := range []struct {
		file   string
		indent string
	}{
		{"blog-workflow-step.yml", "    "},
		{"blog-summary-workflow.yml", "          "},
	} {
		raw := expandActions(readTestdata(t, tt.file))
		body := heredocBody(t, raw)
		if !strings.HasPrefix(body, tt.indent+"mount") {
			t.Fatalf("%s: heredoc body %q is not indented by %q", tt.file, body, tt.indent)
		}
		got, err := ReadRequest(strings.NewReader(body), Limits{})
		if err != nil {
			t.Fatalf("%s: ReadRequest(%q): %v", tt.file, body, err)
		}
		want, err := ReadRequest(strings.NewReader(heredocBody(t, runBlock(t, raw))), Limits{})
		if err != nil || !sameRequest(got, want) {
			t.Errorf("%s: indented %v, dedented %v (%v)", tt.file, got, want, err)
		}
	}
}
