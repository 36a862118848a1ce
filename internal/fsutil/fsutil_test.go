package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReadRemove(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "etc", "unit.service")
	if b, err := ReadFile(p); b != nil || err != nil {
		t.Fatalf("missing file: %q, %v", b, err)
	}
	if ok, err := Exists(p); ok || err != nil {
		t.Fatalf("Exists before write: %v, %v", ok, err)
	}
	for _, text := range []string{"first\n", "second\n"} {
		if err := WriteAtomic(p, []byte(text), 0o640); err != nil {
			t.Fatal(err)
		}
		if b, err := ReadFile(p); string(b) != text || err != nil {
			t.Fatalf("read back %q, %v; want %q", b, err, text)
		}
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, %v; want 0640", st.Mode(), err)
	}
	// No temporary file is left next to it.
	if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 1 {
		t.Errorf("%d entries in the directory, want only the file", len(entries))
	}
	if err := Remove(p); err != nil {
		t.Fatal(err)
	}
	if ok, _ := Exists(p); ok {
		t.Error("file still there after Remove")
	}
	if err := Remove(p); err != nil {
		t.Errorf("removing a missing file: %v", err)
	}
	// A dangling symlink exists.
	if err := os.Symlink("/nonexistent", p); err != nil {
		t.Fatal(err)
	}
	if ok, err := Exists(p); !ok || err != nil {
		t.Errorf("dangling symlink: %v, %v", ok, err)
	}
}

func TestWriteAtomicLeavesNothingOnFailure(t *testing.T) {
	dir := t.TempDir()
	// The target is a directory: the rename fails.
	p := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(p, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(p, []byte("data"), 0o644); err == nil {
		t.Fatal("writing over a non-empty directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries after a failed write, want only the directory", len(entries))
	}
}
