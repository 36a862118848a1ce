package btrfsstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
)

// SetState rewrites the snapshot's sidecar. Sealing first makes the
// subvolume read-only, so that nothing changes a candidate origin, and
// needs no free space (see "A full filesystem" in the package doc): when
// the sealed sidecar finds no room, the old one is marked instead, and
// SetState succeeds. Other states need room
// for the sidecar; without it SetState returns a *store.FullError and
// changes nothing.
func (s *Store) SetState(ctx context.Context, name string, st store.State) error {
	what := fmt.Sprintf("set the state of cache snapshot %s to %s", name, st)
	if name == s.defName {
		return fmt.Errorf("%s: %w", what, store.ErrDefault)
	}
	if !st.Valid() {
		return fmt.Errorf("%s: unknown state", what)
	}
	if err := store.CheckName(name); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sub, err := os.OpenFile(s.path(name), os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer sub.Close()
	m, _, err := readSidecar(filepath.Join(s.meta(), name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: its metadata is missing (a create was interrupted; delete it): %w", what, err)
	case err != nil:
		return fmt.Errorf("%s: its metadata is unreadable (delete it): %w", what, err)
	}
	if st == store.Sealed {
		if _, err := setReadOnly(sub); err != nil {
			return fmt.Errorf("%s: %w", what, s.full(err))
		}
	}
	m.State = st
	err = writeSidecar(s.meta(), name, m, st == store.Sealed)
	if err != nil && st == store.Sealed && noRoom(err) {
		// Sealed all the same, by the mark; New rewrites the sidecar.
		err = s.mark(name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, s.full(err))
	}
	return nil
}

// sealedMode is the mode of a sealed snapshot's sidecar. When sealing
// finds no room to write the sealed sidecar, it sets this mode on the
// old one (a chmod needs no free space) as the mark of its seal: the
// mark is the agent's, in a directory only root can reach, while a job
// can make its own subvolume read-only (it owns the subvolume's root)
// and writable again.
const sealedMode = 0o400

// mark marks snapshot name's sidecar sealed, durably: its subvolume is
// read-only already.
func (s *Store) mark(name string) error {
	f, err := os.Open(filepath.Join(s.meta(), name))
	if err != nil {
		return fmt.Errorf("mark its metadata sealed: %w", err)
	}
	defer f.Close()
	if err := f.Chmod(sealedMode); err != nil {
		return fmt.Errorf("mark its metadata sealed: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("mark its metadata sealed: %w", err)
	}
	return nil
}

// stateOf returns the state of snapshot name from its sidecar m, whose
// mode is mode: that of m, except that a marked sidecar (sealedMode)
// whose subvolume is read-only was sealed, whatever m says (the seal
// found no room to rewrite it).
func (s *Store) stateOf(name string, m sidecar, mode fs.FileMode) store.State {
	if m.State == store.Sealed || mode.Perm()&0o200 != 0 {
		return m.State
	}
	f, err := os.OpenFile(s.path(name), os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return m.State
	}
	defer f.Close()
	if ro, err := readOnly(f); err == nil && ro {
		return store.Sealed
	}
	return m.State
}

// rewriteSeals rewrites, when there is room, the sidecars of snapshots
// that were sealed when there was none, so that they say sealed again
// (List reports them sealed either way). New calls it: a start of the
// agent is rare, and List stays free of writes. What still finds no room
// waits for the next start.
func (s *Store) rewriteSeals() {
	entries, err := os.ReadDir(s.meta())
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		if store.CheckName(n) != nil || n == s.defName {
			continue
		}
		if info, err := e.Info(); err != nil || info.Mode().Perm()&0o200 != 0 {
			continue // not marked: nothing to rewrite
		}
		m, mode, err := readSidecar(filepath.Join(s.meta(), n))
		if err != nil || m.State == store.Sealed || s.stateOf(n, m, mode) != store.Sealed {
			continue
		}
		m.State = store.Sealed
		writeSidecar(s.meta(), n, m, true)
	}
}
