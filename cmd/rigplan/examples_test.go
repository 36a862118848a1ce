package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestExamplesValidate runs `rigplan validate` on every configuration in
// examples/: each must be valid, with neither errors nor warnings.
func TestExamplesValidate(t *testing.T) {
	dirs, err := filepath.Glob("../../examples/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, dir := range dirs {
		if hcl, _ := filepath.Glob(filepath.Join(dir, "*.hcl")); len(hcl) == 0 {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			a := &app{stdin: bytes.NewReader(nil), stdout: &stdout, stderr: &stderr, env: os.Environ()}
			if code := a.run([]string{"validate", dir}); code != 0 || stderr.Len() > 0 {
				t.Errorf("rigplan validate %s: exit %d\n%s%s", dir, code, stdout.String(), stderr.String())
			}
		})
	}
	if n == 0 {
		t.Fatal("no examples found")
	}
}
