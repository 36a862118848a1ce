package btrfsstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
)

// usage reads the store's use.
func usage(t *testing.T, s *Store) store.Usage {
	t.Helper()
	u, err := s.Usage(bg)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// sealedWith makes sealed snapshot name holding n MiB of its own, and n
// MiB more in a subvolume its job made inside it.
func sealedWith(t *testing.T, s *Store, name string, n int) {
	t.Helper()
	if _, err := s.Create(bg, "default", name, "m", nil); err != nil {
		t.Fatal(err)
	}
	dir := jobMount(t, s, name)
	job(t, "btrfs", "subvolume", "create", filepath.Join(dir, "nested"))
	for _, f := range []string{"blob", "nested/blob"} {
		if err := jobWrites(t, dir, f, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Unmount(bg, dir); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(bg, name, store.Sealed); err != nil {
		t.Fatal(err)
	}
	unix.Sync()
}

// btrfs frees a deleted subvolume's space in the background, up to a
// commit interval later. Once Settle returns, Usage counts the space
// of what Delete removed: the snapshot's and that of the subvolume its
// job made inside it.
func TestSettleGivesTheSpaceBack(t *testing.T) {
	s, _ := newStore(t, 1<<30)
	if err := s.Settle(bg); err != nil {
		t.Fatalf("Settle with nothing deleted: %v", err)
	}
	sealedWith(t, s, "job", 64)
	before := usage(t, s)
	if err := s.Delete(bg, "job"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 2*time.Minute) // a bound on a hang
	defer cancel()
	if err := s.Settle(ctx); err != nil {
		t.Fatalf("Settle after a Delete: %v", err)
	}
	after := usage(t, s)
	freed := (before.DataPercent - after.DataPercent) / 100 * float64(before.DataBytes)
	t.Logf("use %.1f%% before Delete, %.1f%% after Settle: %.0f MiB freed", before.DataPercent, after.DataPercent, freed/mib)
	if freed < 120*mib {
		t.Errorf("after Delete and Settle of a snapshot holding 128 MiB, Usage shows %.0f MiB freed", freed/mib)
	}
}

// A subvolume whose file is still open when it is deleted reaches the
// cleaner only once the file is closed. Settle then ends with its
// context, saying so, and the next Settle does not wait for it again.
func TestSettleEndsWithItsContext(t *testing.T) {
	s, _ := newStore(t, 1<<30)
	sealedWith(t, s, "held", 8)
	f, err := os.Open(filepath.Join(s.path("held"), "blob"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.Delete(bg, "held"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 2*time.Second)
	defer cancel()
	if err := s.Settle(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Settle while a deleted subvolume's file is open: %v, want its context's end", err)
	}
	if err := s.Settle(bg); err != nil {
		t.Errorf("a second Settle: %v, want nothing to wait for", err)
	}
}
