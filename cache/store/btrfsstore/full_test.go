package btrfsstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
)

// fillUp writes into dir until the filesystem has no room left: what a
// job can do through its mounted cache. btrfs may find room again once a
// transaction commits, so it writes again after a sync until nothing
// more fits.
func fillUp(t *testing.T, dir string) {
	t.Helper()
	chunk := make([]byte, 1<<20)
	for i := 0; ; i++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("fill-%d", i)))
		if err != nil {
			if errors.Is(err, unix.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
		wrote := 0
		for {
			n, err := f.Write(chunk)
			wrote += n
			if errors.Is(err, unix.ENOSPC) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
		unix.Sync()
		if wrote == 0 {
			return
		}
	}
}

// wantFull checks that err says the store is full, naming it and its use.
func wantFull(t *testing.T, s *Store, what string, err error) {
	t.Helper()
	var fe *store.FullError
	switch {
	case !errors.Is(err, store.ErrFull) || !errors.As(err, &fe):
		t.Errorf("%s on a full filesystem: %v, want a store.FullError", what, err)
	case fe.Store != "btrfs filesystem at "+s.dir || fe.Usage == nil || fe.Usage.DataPercent < 95:
		t.Errorf("%s on a full filesystem: FullError names %q with use %v, want the btrfs filesystem at %s, over 95%% used", what, fe.Store, fe.Usage, s.dir)
	case !strings.Contains(err.Error(), s.dir) || !strings.Contains(err.Error(), "% used"):
		t.Errorf("%s on a full filesystem: %q does not name the store and its use", what, err)
	default:
		t.Logf("%s on a full filesystem (as expected): %v", what, err)
	}
}

// A job fills the filesystem through its mounted cache. Whatever needs
// room fails with a FullError naming the store and leaves nothing
// behind; the job's snapshot (and another whose machine exits
// meanwhile) can still be sealed and deleted, and once Delete has freed
// the space, Create works again.
func TestFullFilesystem(t *testing.T) {
	// commit=1: btrfs's cleaner, which frees a deleted subvolume's
	// space, wakes with each periodic commit; the test waits for it.
	s, mnt := newStoreWith(t, 256<<20, Config{}, "commit=1")
	for _, n := range []string{"job", "other", "waiting"} {
		if _, err := s.Create(bg, "default", n, "m", nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"job", "other"} {
		if err := s.SetState(bg, n, store.InUse); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := s.Mount(bg, "job", dir); err != nil {
		t.Fatal(err)
	}
	fillUp(t, dir)
	if u, _ := s.Usage(bg); u.DataPercent < 99 {
		t.Fatalf("the filesystem is only %.1f%% used after filling it", u.DataPercent)
	}

	_, err := s.Create(bg, "default", "next", "m", nil)
	wantFull(t, s, "Create", err)
	_, err = s.Copy(bg, "job", dir, "saved", "m", []string{"linux"})
	wantFull(t, s, "Copy", err)
	wantFull(t, s, "SetState(in-use)", s.SetState(bg, "waiting", store.InUse))

	// The job's machine exits, as does the other's: the agent seals both.
	if err := s.Unmount(bg, dir); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"job", "other"} {
		if err := s.SetState(bg, n, store.Sealed); err != nil {
			t.Errorf("SetState(%s, sealed) on a full filesystem: %v", n, err)
		}
	}
	snaps := listed(t, s)
	for n, want := range map[string]store.State{"job": store.Sealed, "other": store.Sealed, "waiting": store.Pending} {
		if got := snaps[n].State; got != want {
			t.Errorf("List reports %s as %q on the full filesystem, want %q", n, got, want)
		}
	}
	for _, n := range []string{"next", "saved"} {
		left, _ := filepath.Glob(filepath.Join(s.meta(), "*"+n+"*"))
		if _, ok := snaps[n]; ok || len(left) > 0 {
			t.Errorf("the failed call that would have made %s left it listed (%v) or its metadata %v", n, ok, left)
		}
		if _, err := os.Lstat(s.path(n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the failed call that would have made %s left %s: %v", n, s.path(n), err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.path("job"), "more"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write into the sealed snapshot: %v, want EROFS", err)
	}

	before, err := s.Usage(bg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(bg, "job"); err != nil {
		t.Fatalf("Delete on a full filesystem: %v", err)
	}
	// btrfs frees a deleted subvolume's space in the background, once
	// its cleaner has dropped the subvolume's tree.
	sh(t, "btrfs", "subvolume", "sync", mnt)
	unix.Sync()
	after, err := s.Usage(bg)
	if err != nil {
		t.Fatal(err)
	}
	if after.DataPercent > before.DataPercent-30 {
		t.Errorf("Delete of the snapshot that filled the filesystem left it %.1f%% used (%.1f%% before)", after.DataPercent, before.DataPercent)
	}
	if _, err := s.Create(bg, "default", "next", "m", nil); err != nil {
		t.Errorf("Create once the space is back: %v", err)
	}
	if err := s.SetState(bg, "waiting", store.InUse); err != nil {
		t.Errorf("SetState(in-use) once the space is back: %v", err)
	}

	// The agent restarts: the sidecar the seal could not rewrite says so
	// now, and List still reports the seal.
	s2, err := New(Config{Dir: s.dir, Default: s.defPath})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(s.meta(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := parseSidecar(b); err != nil || m.State != store.Sealed {
		t.Errorf("after a restart with room, other's sidecar reads %+v, %v; want sealed", m, err)
	}
	if got := listed(t, s2)["other"].State; got != store.Sealed {
		t.Errorf("after a restart, List reports other as %q, want sealed", got)
	}
}

// A job owns its cache's root, so it may make its own snapshot read-only
// (and writable again): that is no seal. Its snapshot stays in use, never
// an origin for other jobs, before and after an agent restart.
func TestJobCannotSealItsOwnSnapshot(t *testing.T) {
	s, _ := newStore(t, 1<<30)
	if _, err := s.Create(bg, "default", "job", "m", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(bg, "job", store.InUse); err != nil {
		t.Fatal(err)
	}
	dir := jobMount(t, s, "job")
	job(t, "btrfs", "property", "set", "-ts", dir, "ro", "true")
	if _, err := asJob(t, "touch", filepath.Join(dir, "x")); err == nil {
		t.Fatal("the job's cache takes writes after the job made it read-only: the test does not test what it means to")
	}
	if got := listed(t, s)["job"].State; got != store.InUse {
		t.Errorf("List reports the snapshot its job made read-only as %q, want in-use", got)
	}
	s2, err := New(Config{Dir: s.dir, Default: s.defPath})
	if err != nil {
		t.Fatal(err)
	}
	if got := listed(t, s2)["job"].State; got != store.InUse {
		t.Errorf("after a restart, List reports the snapshot its job made read-only as %q, want in-use", got)
	}
	// The job ends; the agent seals what is read-only already.
	if err := s.Unmount(bg, dir); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(bg, "job", store.Sealed); err != nil {
		t.Fatal(err)
	}
	if got := listed(t, s)["job"].State; got != store.Sealed {
		t.Errorf("after SetState(sealed), List reports %q", got)
	}
}

// Only a marked sidecar and a read-only subvolume together are a seal:
// a marked sidecar of a writable subvolume (an operator's chmod, a
// sidecar copied about) leaves the snapshot in use, and SetState seals
// it.
func TestMarkAloneIsNoSeal(t *testing.T) {
	s, _ := newStore(t, 1<<30)
	if _, err := s.Create(bg, "default", "job", "m", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(bg, "job", store.InUse); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(s.meta(), "job"), sealedMode); err != nil {
		t.Fatal(err)
	}
	if got := listed(t, s)["job"].State; got != store.InUse {
		t.Errorf("List reports a writable snapshot with a marked sidecar as %q, want in-use", got)
	}
	if err := s.SetState(bg, "job", store.Sealed); err != nil {
		t.Fatal(err)
	}
	if got := listed(t, s)["job"].State; got != store.Sealed {
		t.Errorf("after SetState(sealed), List reports %q", got)
	}
}
