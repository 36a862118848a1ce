package rootfs

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestStageCommitNew(t *testing.T) {
	base := t.TempDir()
	dest := filepath.Join(base, "runner")
	s, err := NewStage(dest)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(s.Dir()) != base {
		t.Errorf("stage %s is not next to %s", s.Dir(), dest)
	}
	if st, _ := os.Stat(s.Dir()); st.Mode().Perm() != 0o700 {
		t.Errorf("stage mode %v, want private", st.Mode())
	}
	os.WriteFile(filepath.Join(s.Dir(), "f"), []byte("new"), 0o644)
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dest, "f")); got != "new" {
		t.Errorf("f = %q", got)
	}
	if got := names(t, base); !slices.Equal(got, []string{"runner"}) {
		t.Errorf("left beside: %q", got)
	}
}

func TestStageCommitReplaces(t *testing.T) {
	base := t.TempDir()
	dest := filepath.Join(base, "runner")
	os.MkdirAll(filepath.Join(dest, "old-dir"), 0o755)
	os.WriteFile(filepath.Join(dest, "f"), []byte("old"), 0o644)
	s, err := NewStage(dest)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(s.Dir(), "f"), []byte("new"), 0o644)
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dest, "f")); got != "new" {
		t.Errorf("f = %q", got)
	}
	mustNotExist(t, filepath.Join(dest, "old-dir"))
	if got := names(t, base); !slices.Equal(got, []string{"runner"}) {
		t.Errorf("left beside: %q", got)
	}
}

func TestStageDiscardKeepsDestination(t *testing.T) {
	base := t.TempDir()
	dest := filepath.Join(base, "runner")
	os.MkdirAll(dest, 0o755)
	os.WriteFile(filepath.Join(dest, "f"), []byte("old"), 0o644)
	s, err := NewStage(dest)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(s.Dir(), "f"), []byte("half"), 0o644)
	if err := s.Discard(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dest, "f")); got != "old" {
		t.Errorf("f = %q", got)
	}
	if got := names(t, base); !slices.Equal(got, []string{"runner"}) {
		t.Errorf("left beside: %q", got)
	}
}

func TestRemoveAndRemoveStale(t *testing.T) {
	base := t.TempDir()
	dest := filepath.Join(base, "runner")
	os.MkdirAll(filepath.Join(dest, "a/b"), 0o755)
	other := filepath.Join(base, "runner2")
	os.MkdirAll(other, 0o755)
	if err := Remove(dest); err != nil {
		t.Fatal(err)
	}
	if err := Remove(dest); err != nil {
		t.Errorf("removing a missing tree: %v", err)
	}
	if got := names(t, base); !slices.Equal(got, []string{"runner2"}) {
		t.Errorf("after Remove: %q", got)
	}

	// Leftovers of a killed run, and a neighbour's that must stay.
	s1, _ := NewStage(dest)
	os.WriteFile(filepath.Join(s1.Dir(), "f"), nil, 0o644)
	s2, _ := NewStage(other)
	removed, err := RemoveStale(dest)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != s1.Dir() {
		t.Errorf("removed %q, want %q", removed, s1.Dir())
	}
	if _, err := os.Stat(s2.Dir()); err != nil {
		t.Errorf("a neighbour's stage was removed: %v", err)
	}
}
