package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// githubHash computes GitHub's hashFiles() result independently of the
// implementation: SHA-256 over the concatenated raw SHA-256 digests of the
// files' contents, in order; "" for no files.
func githubHash(t *testing.T, dir string, rel []string) string {
	t.Helper()
	if len(rel) == 0 {
		return ""
	}
	var digests []byte
	for _, r := range rel {
		b, err := os.ReadFile(filepath.Join(dir, r))
		if err != nil {
			t.Fatal(err)
		}
		d := sha256.Sum256(b)
		digests = append(digests, d[:]...)
	}
	sum := sha256.Sum256(digests)
	return hex.EncodeToString(sum[:])
}

// hashTree builds the tree most cases use; every file has distinct
// contents, so that a wrong set or order changes the hash.
func hashTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"go.sum":                              "go.sum",
		"a.txt":                               "a.txt",
		"a/b.txt":                             "a/b.txt",
		"a/package-lock.json":                 "a/lock",
		"a/node_modules/x/package-lock.json":  "nm/lock",
		"web/package-lock.json":               "web/lock",
		"web/src/index.js":                    "index.js",
		".github/workflows/ci.yml":            "ci.yml",
		"{a,b}.txt":                           "braces",
		"deep/one/two/three/Containerfile":    "deep cf",
		"images/runner/Containerfile":         "runner cf",
		"images/runner/context/entrypoint.sh": "entry",
	})
	return dir
}

func TestHashFilesMatches(t *testing.T) {
	dir := hashTree(t)
	tests := []struct {
		name     string
		patterns []string
		want     []string // in GitHub's order
	}{
		{"globstar", []string{"**/package-lock.json"},
			[]string{"a/node_modules/x/package-lock.json", "a/package-lock.json", "web/package-lock.json"}},
		{"negation", []string{"**/package-lock.json", "!**/node_modules/**"},
			[]string{"a/package-lock.json", "web/package-lock.json"}},
		{"negation then re-include", []string{"**/package-lock.json", "!a/**", "a/node_modules/**"},
			[]string{"a/node_modules/x/package-lock.json", "web/package-lock.json"}},
		{"several patterns in one argument", []string{"go.sum\n# a comment\n\n  web/package-lock.json  "},
			[]string{"go.sum", "web/package-lock.json"}},
		{"literal file", []string{"go.sum"}, []string{"go.sum"}},
		{"dot slash", []string{"./go.sum"}, []string{"go.sum"}},
		{"directory takes in its contents", []string{"images/runner"},
			[]string{"images/runner/Containerfile", "images/runner/context/entrypoint.sh"}},
		{"trailing slash", []string{"images/runner/"},
			[]string{"images/runner/Containerfile", "images/runner/context/entrypoint.sh"}},
		{"star matches dotfiles", []string{"*/workflows/*.yml"}, []string{".github/workflows/ci.yml"}},
		{"depth-first byte order puts a/ before a.txt", []string{"a*", "a/*.txt"},
			[]string{"a/b.txt", "a/node_modules/x/package-lock.json", "a/package-lock.json", "a.txt"}},
		{"search paths in pattern order", []string{"web/src/*.js", "go.sum"},
			[]string{"web/src/index.js", "go.sum"}},
		{"search path below another is walked once", []string{"web/**", "web/src/**"},
			[]string{"web/package-lock.json", "web/src/index.js"}},
		{"braces are literal", []string{"{a,b}.txt"}, []string{"{a,b}.txt"}},
		{"question mark and class", []string{"?.tx[st]"}, []string{"a.txt"}},
		{"star stays in one segment", []string{"deep/*/Containerfile"}, nil},
		{"globstar spans segments", []string{"deep/**/Containerfile"}, []string{"deep/one/two/three/Containerfile"}},
		{"no match", []string{"**/*.nope"}, nil},
		{"missing literal", []string{"does/not/exist"}, nil},
		{"only negation", []string{"!go.sum"}, nil},
		{"dot dot before wildcard", []string{"web/../images/*/Containerfile"}, []string{"images/runner/Containerfile"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := matchFiles(dir, tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			var rel []string
			for _, f := range files {
				r, _ := filepath.Rel(dir, f)
				rel = append(rel, filepath.ToSlash(r))
			}
			if !slices.Equal(rel, tt.want) {
				t.Errorf("matched %q, want %q", rel, tt.want)
			}

			var args []string
			for _, p := range tt.patterns {
				args = append(args, strconv.Quote(p))
			}
			got, diags := evalExpr(t, dir, "hashfiles("+strings.Join(args, ", ")+")")
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if want := githubHash(t, dir, tt.want); got.AsString() != want {
				t.Errorf("hashfiles = %q, want %q", got.AsString(), want)
			}
		})
	}
}

// TestHashFilesKnownValue pins results to the values GitHub's own tests
// expect (actions/toolkit packages/glob/__tests__/hash-files.test.ts,
// "basic hashfiles test" and "multipath test basic"), so the algorithm is
// checked against GitHub's implementation, not only against ours.
func TestHashFilesKnownValue(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		expr  string
		want  string
	}{
		{"basic", map[string]string{"basic-hashfiles/test.txt": "test file content"},
			`hashfiles("basic-hashfiles/*")`,
			"d8a411e8f8643821bed189e627ff57151918aa554c00c10b31c693ab2dded273"},
		{"multipath", map[string]string{"dir1/testfile1.txt": "test file content", "dir2/testfile2.txt": "test file content"},
			`hashfiles("dir1\ndir2")`,
			"4e911ea5824830b6a3ec096c7833d5af8381c189ffaa825c3503a5333a73eadc"},
		{"no match", nil, `hashfiles("empty-hashfiles/*")`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tt.files)
			got, diags := evalExpr(t, dir, tt.expr)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if got.AsString() != tt.want {
				t.Errorf("hashfiles = %q, want %q", got.AsString(), tt.want)
			}
		})
	}
}

func TestHashFilesAbsoluteAndSymlinks(t *testing.T) {
	dir := hashTree(t)
	other := t.TempDir()
	writeTree(t, other, map[string]string{"x/one.lock": "one", "x/two.lock": "two", "target.txt": "target"})
	if err := os.Symlink(filepath.Join(other, "target.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(other, "x"), filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}

	files, err := matchFiles(dir, []string{filepath.Join(other, "x", "*.lock")})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || filepath.Base(files[0]) != "one.lock" {
		t.Errorf("absolute pattern matched %q, want one.lock and two.lock", files)
	}

	// A link to a file is hashed as its target; a link to a directory is
	// not descended into, as GitHub does without --follow-symbolic-links.
	files, err = matchFiles(dir, []string{"link*", "link*/**"})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || filepath.Base(files[0]) != "link.txt" {
		t.Errorf("matched %q, want only link.txt", files)
	}
	got, diags := evalExpr(t, dir, `hashfiles("link.txt")`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if want := githubHash(t, other, []string{"target.txt"}); got.AsString() != want {
		t.Errorf("hashfiles(link) = %s, want the target's %s", got.AsString(), want)
	}
}

// TestHashFilesSkipsSpecialFiles checks that a FIFO is not opened (which
// would block for ever) but regular files beside it are hashed.
func TestHashFilesSkipsSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.lock": "a"})
	if err := syscall.Mkfifo(filepath.Join(dir, "b.lock"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	got, diags := evalExpr(t, dir, `hashfiles("*.lock")`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if want := githubHash(t, dir, []string{"a.lock"}); got.AsString() != want {
		t.Errorf("hashfiles = %s, want %s", got.AsString(), want)
	}
}

func TestHashFilesErrors(t *testing.T) {
	dir := hashTree(t)
	if err := os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "broken.lock")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		expr string
		want string
	}{
		{`hashfiles()`, "needs at least one glob pattern"},
		{`hashfiles("--follow-symbolic-links", "**")`, "takes no options"},
		{`hashfiles("go.sum", "*/../x")`, `"." and ".." may appear only before the first wildcard`},
		{`hashfiles("!")`, `a "!" must be followed by a pattern`},
		{`hashfiles("[")`, "not a valid glob"},
		{`hashfiles("*.lock")`, "broken.lock is a broken symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, diags := evalExpr(t, dir, tt.expr)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			if !strings.Contains(diags.Error(), tt.want) {
				t.Errorf("error %q does not say %q", diags.Error(), tt.want)
			}
		})
	}
}
