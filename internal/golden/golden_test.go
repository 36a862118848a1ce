package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// recorder is a testing.TB that records failures instead of stopping.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	if err := os.WriteFile(path, []byte("same\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	Check(r, path, []byte("same\n"))
	if r.failed {
		t.Error("equal output failed")
	}
	Check(r, path, []byte("other\n"))
	if !r.failed {
		t.Error("different output passed")
	}
	r = &recorder{TB: t}
	Check(r, filepath.Join(t.TempDir(), "missing.txt"), []byte("x"))
	if !r.failed {
		t.Error("a missing golden file passed")
	}
}
