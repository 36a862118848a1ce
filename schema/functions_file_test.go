package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// writeTree creates files (path relative to dir -> contents) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFileFunctions(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	writeTree(t, dir, map[string]string{
		"unit.conf":         "[Unit]\nDescription=runner\n",
		"sub/Containerfile": "FROM debian\n",
		"bin.dat":           "\xff\xfe\x00",
	})
	writeTree(t, outside, map[string]string{"abs.txt": "absolute\n"})
	hexSHA := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	absPath := filepath.Join(outside, "abs.txt")

	tests := []struct {
		name    string
		expr    string
		want    cty.Value
		wantErr string
	}{
		{name: "relative", expr: `file("unit.conf")`, want: cty.StringVal("[Unit]\nDescription=runner\n")},
		{name: "subdir", expr: `file("sub/Containerfile")`, want: cty.StringVal("FROM debian\n")},
		{name: "dot dot", expr: `file("sub/../unit.conf")`, want: cty.StringVal("[Unit]\nDescription=runner\n")},
		{name: "absolute", expr: `file(` + strconv.Quote(absPath) + `)`, want: cty.StringVal("absolute\n")},
		{name: "missing", expr: `file("nope.txt")`, wantErr: "no file exists at nope.txt (looked for " + filepath.Join(dir, "nope.txt")},
		{name: "missing absolute", expr: `file("/nonexistent/rigplan")`, wantErr: "no file exists at /nonexistent/rigplan; check the path"},
		{name: "not utf-8", expr: `file("bin.dat")`, wantErr: "is not valid UTF-8 text"},
		{name: "directory", expr: `file("sub")`, wantErr: "sub is a directory, not a file"},
		{name: "empty", expr: `file("")`, wantErr: "the path is empty"},
		{name: "sha256", expr: `filesha256("sub/Containerfile")`, want: cty.StringVal(hexSHA("FROM debian\n"))},
		{name: "sha256 binary", expr: `filesha256("bin.dat")`, want: cty.StringVal(hexSHA("\xff\xfe\x00"))},
		{name: "sha256 missing", expr: `filesha256("nope")`, wantErr: "no file exists at nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := evalExpr(t, dir, tt.expr)
			if tt.wantErr != "" {
				if !diags.HasErrors() {
					t.Fatalf("got %#v, want an error", got)
				}
				if !strings.Contains(diags.Error(), tt.wantErr) {
					t.Errorf("error %q does not say %q", diags.Error(), tt.wantErr)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatalf("unexpected error: %s", diags.Error())
			}
			if !got.RawEquals(tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestFileRelativeToConfigNotCwd proves paths follow the configuration
// directory: the working directory holds a different file of that name.
func TestFileRelativeToConfigNotCwd(t *testing.T) {
	cfg, cwd := t.TempDir(), t.TempDir()
	writeTree(t, cfg, map[string]string{"x.txt": "config"})
	writeTree(t, cwd, map[string]string{"x.txt": "cwd"})
	t.Chdir(cwd)
	got, diags := evalExpr(t, cfg, `file("x.txt")`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got.AsString() != "config" {
		t.Errorf("file read %q, want the configuration directory's file", got.AsString())
	}
}
