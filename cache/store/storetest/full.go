package storetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rigplan/rigplan/cache/store"
)

// FullEnv is a store small enough for one job to fill: its space is
// less than what one snapshot of the default volume can hold.
type FullEnv struct {
	Store store.Store
	// Default is the default volume's name as List reports it; no
	// snapshot exists yet.
	Default string
	// MaxFill bounds what the job writes; the store must be full before.
	MaxFill int64
	// RefusesNew says the store refuses Create and Copy once full (LVM
	// does: a thin pool with no free data takes no new thin volume). A
	// store without it may make them, and must then still give a
	// FullError for whatever writes fail.
	RefusesNew bool
	// CheckFull, when set, checks each FullError further (which store it
	// names, its usage) for the store at hand; op says which call gave it.
	CheckFull func(t *testing.T, op string, e *store.FullError)
}

// RunFull fills the store through one job's snapshot and checks that a
// full store is an error that names it, that nothing a full store
// refused is left behind, and that it heals: the job's snapshot is
// sealed and listed as such whatever room is left (sealing must never
// depend on free space), deleting it frees the store, and the next job's
// snapshot takes writes again. Snapshots it makes start with "full-".
func RunFull(t *testing.T, e FullEnv) {
	s := &suite{Env: Env{Store: e.Store, Default: e.Default}}
	// Made while there is room, mounted once the store is full: a job
	// whose snapshot was made just before.
	s.create(t, e.Default, "full-early", "linux")

	s.create(t, e.Default, "full-job", "linux")
	s.setState(t, "full-job", store.InUse)
	dir := s.mount(t, "full-job")
	werr := fill(dir, e.MaxFill)
	if werr == nil {
		t.Fatalf("the job wrote %d bytes into its snapshot without an error: the store is not smaller than a snapshot", e.MaxFill)
	}
	t.Logf("the job's write failed (the store is full): %v", werr)
	if u, err := e.Store.Usage(ctx()); err != nil {
		t.Errorf("Usage of a full store: %v", err)
	} else {
		t.Logf("usage of the full store: %s", u)
	}

	checkFull := func(op string, err error) {
		t.Helper()
		var fe *store.FullError
		switch {
		case !errors.Is(err, store.ErrFull) || !errors.As(err, &fe):
			t.Errorf("%s on a full store: %v, want a *store.FullError (errors.Is ErrFull)", op, err)
		case fe.Store == "" || fe.Usage == nil:
			t.Errorf("%s on a full store: the FullError names no store (%q) or has no usage (%v): %v", op, fe.Store, fe.Usage, err)
		default:
			t.Logf("%s on a full store (refused as expected): %v", op, err)
			if e.CheckFull != nil {
				e.CheckFull(t, op, fe)
			}
		}
	}
	made := func(op, name string, err error) {
		t.Helper()
		switch {
		case err != nil:
			checkFull(op, err)
			if slices.Contains(names(s.list(t)), name) {
				t.Errorf("the refused %s left snapshot %s", op, name)
			}
		case e.RefusesNew:
			t.Errorf("%s on a full store succeeded, want a FullError", op)
			fallthrough
		default:
			if err := e.Store.Delete(ctx(), name); err != nil {
				t.Errorf("delete %s, which %s made on a full store: %v", name, op, err)
			}
		}
	}

	_, err := e.Store.Copy(ctx(), "full-job", dir, "full-saved", "machine-full-job", []string{"linux"})
	made("Copy (the job's save)", "full-saved", err)
	_, err = e.Store.Create(ctx(), e.Default, "full-new", "m", []string{"linux"})
	made("Create", "full-new", err)

	early := t.TempDir()
	if err := e.Store.Mount(ctx(), "full-early", early); err != nil {
		checkFull("Mount", err)
	} else if err := e.Store.Unmount(ctx(), early); err != nil {
		t.Errorf("Unmount of a snapshot mounted on a full store: %v", err)
	}

	// The job ends: its snapshot is unmounted and sealed, with the store
	// still full.
	s.unmount(t, dir)
	s.setState(t, "full-job", store.Sealed)
	if st := find(t, s.list(t), "full-job").State; st != store.Sealed {
		t.Errorf("the job's snapshot, sealed on a full store, is listed %s", st)
	}

	// Retention deletes it: the store has room again.
	for _, n := range []string{"full-job", "full-early"} {
		if err := e.Store.Delete(ctx(), n); err != nil {
			t.Fatalf("Delete(%s) on a full store: %v", n, err)
		}
	}
	if got := names(s.list(t)); !slices.Equal(got, []string{e.Default}) {
		t.Errorf("after deleting every snapshot List has %v", got)
	}
	s.create(t, e.Default, "full-after", "linux")
	dir = s.mount(t, "full-after")
	if err := writeSynced(filepath.Join(dir, "after"), make([]byte, 1<<20)); err != nil {
		t.Errorf("a write to a new snapshot after the store was freed: %v", err)
	}
	s.unmount(t, dir)
	if err := e.Store.Delete(ctx(), "full-after"); err != nil {
		t.Errorf("Delete(full-after): %v", err)
	}
}

// fill writes 1 MiB files into dir, each synced, until a write fails or
// max bytes are written; it returns the failure.
func fill(dir string, max int64) error {
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i*7 + 1) // not zeros, which a store might not store
	}
	for n := int64(0); n < max; n += int64(len(buf)) {
		if err := writeSynced(filepath.Join(dir, fmt.Sprintf("fill-%05d", n>>20)), buf); err != nil {
			return err
		}
	}
	return nil
}

// writeSynced writes a file and syncs it, so that a store that fails
// writes only when they reach its disk fails here.
func writeSynced(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
