package btrfsstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
)

// subvolumes lists the filesystem's subvolumes by path, as `btrfs
// subvolume list` prints them.
func subvolumes(t *testing.T, mnt string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(sh(t, "btrfs", "subvolume", "list", mnt)), "\n") {
		if i := strings.Index(line, " path "); i >= 0 {
			out = append(out, line[i+len(" path "):])
		}
	}
	return out
}

// A job may create subvolumes inside its cache (no privilege needed),
// nest them, snapshot its own cache into itself and make any of them
// read-only; the agent seals the snapshot afterwards. Delete removes all
// of it, so that no job can pin space out of retention's reach, and
// refuses while any of it is mounted anywhere.
func TestDeleteRemovesNestedSubvolumes(t *testing.T) {
	s, mnt := newStore(t, 1<<30)
	if _, err := s.Create(bg, "default", "job", "m", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(bg, "job", store.InUse); err != nil {
		t.Fatal(err)
	}
	dir := jobMount(t, s, "job")
	deep := filepath.Join(dir, "a", "b", "deep", "er")
	job(t, "btrfs", "subvolume", "create", filepath.Join(dir, "a"))
	job(t, "btrfs", "subvolume", "create", filepath.Join(dir, "a", "b"))
	job(t, "mkdir", "-p", deep)
	job(t, "btrfs", "subvolume", "create", filepath.Join(deep, "c"))
	job(t, "btrfs", "subvolume", "create", filepath.Join(deep, "c", "d"))
	job(t, "dd", "if=/dev/zero", "of="+filepath.Join(deep, "c", "d", "blob"), "bs=1M", "count=8", "status=none")
	job(t, "btrfs", "subvolume", "snapshot", dir, filepath.Join(dir, "a", "self"))
	// Read-only: a parent with children (b, c), a leaf (d), the snapshot.
	for _, ro := range []string{filepath.Join(dir, "a", "b"), filepath.Join(deep, "c"), filepath.Join(deep, "c", "d"), filepath.Join(dir, "a", "self")} {
		job(t, "btrfs", "property", "set", "-ts", ro, "ro", "true")
	}
	if err := os.WriteFile(filepath.Join(deep, "c", "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Fatalf("the job's read-only subvolume takes writes (%v): the test does not test what it means to", err)
	}
	nested := len(subvolumes(t, mnt))
	if want := 7; nested != want { // default, job, a, b, c, d, self
		t.Fatalf("btrfs subvolume list shows %d subvolumes, want %d: %q", nested, want, subvolumes(t, mnt))
	}
	if err := s.Unmount(bg, dir); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(bg, "job", store.Sealed); err != nil {
		t.Fatal(err)
	}

	// A nested subvolume mounted elsewhere: Delete refuses, naming the
	// mount, and deletes nothing.
	elsewhere := t.TempDir()
	if err := unix.Mount(filepath.Join(s.path("job"), "a", "b", "deep", "er", "c"), elsewhere, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	err := s.Delete(bg, "job")
	if err == nil || !strings.Contains(err.Error(), elsewhere) {
		t.Errorf("Delete while a subvolume inside the snapshot is mounted at %s: %v, want a refusal naming the mount", elsewhere, err)
	}
	if n := len(subvolumes(t, mnt)); n != nested {
		t.Errorf("the refused Delete deleted %d subvolumes: %q", nested-n, subvolumes(t, mnt))
	}
	if err := unix.Unmount(elsewhere, 0); err != nil {
		t.Fatal(err)
	}

	if err := s.Delete(bg, "job"); err != nil {
		t.Fatalf("Delete of a sealed snapshot holding the job's subvolumes: %v", err)
	}
	if left := subvolumes(t, mnt); len(left) != 1 || left[0] != "default" {
		t.Errorf("after Delete, btrfs subvolume list shows %q, want only default", left)
	}
	if _, err := os.Lstat(s.path("job")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Delete, %s: %v", s.path("job"), err)
	}
	if _, ok := listed(t, s)["job"]; ok {
		t.Error("List still reports the deleted snapshot")
	}
}
