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

// SetState rewrites the snapshot's sidecar. Sealing also makes the
// subvolume read-only, so that nothing changes a candidate origin, and
// writes the sidecar durably.
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
	b, err := os.ReadFile(filepath.Join(s.meta(), name))
	if err != nil {
		return fmt.Errorf("%s: its metadata is missing (a create was interrupted; delete it): %w", what, err)
	}
	m, err := parseSidecar(b)
	if err != nil {
		return fmt.Errorf("%s: its metadata is unreadable (delete it): %w", what, err)
	}
	if st == store.Sealed {
		if err := setReadOnly(sub); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	m.State = st
	if err := writeSidecar(s.meta(), name, m, st == store.Sealed); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
