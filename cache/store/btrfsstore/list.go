package btrfsstore

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
)

// List scans the directory once (one lstat per entry, to tell subvolumes
// from anything else) and the metadata directory once, and reads one
// sidecar per snapshot. A subvolume without a readable sidecar, or a
// sidecar without its subvolume, is reported Pending: a create, copy or
// delete was interrupted there. With btrfs quotas on, each snapshot's
// Size is its exclusive bytes as of the last transaction commit (two
// tree searches for all of them; see sizes).
func (s *Store) List(ctx context.Context) ([]store.Snapshot, error) {
	var dst unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, s.defPath, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &dst); err != nil {
		return nil, fmt.Errorf("list cache snapshots: default subvolume %s: %w", s.defPath, err)
	}
	out := []store.Snapshot{{Name: s.defName, State: store.Sealed, Default: true, Created: statxTime(dst.Btime)}}

	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list cache snapshots in %s: %w", s.dir, err)
	}
	metas, err := os.ReadDir(s.meta())
	if err != nil {
		return nil, fmt.Errorf("list cache snapshots: %w", err)
	}
	subvols := map[string]bool{}
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() || n == s.defName || store.CheckName(n) != nil || isSubvolume(s.path(n)) != nil {
			continue
		}
		subvols[n] = true
	}
	var snaps []store.Snapshot
	for _, e := range metas {
		n := e.Name()
		if store.CheckName(n) != nil || n == s.defName {
			continue // a temporary file, or not ours
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sn := store.Snapshot{Name: n, State: store.Pending}
		if subvols[n] {
			delete(subvols, n)
			if m, mode, err := readSidecar(filepath.Join(s.meta(), n)); err == nil {
				sn = toSnapshot(n, m)
				sn.State = s.stateOf(n, m, mode)
			}
		}
		snaps = append(snaps, sn)
	}
	for n := range subvols {
		snaps = append(snaps, store.Snapshot{Name: n, State: store.Pending})
	}
	present := map[string]bool{s.defName: true}
	for _, sn := range snaps {
		present[sn.Name] = true
	}
	for i := range snaps {
		if !present[snaps[i].Origin] {
			snaps[i].Origin = ""
		}
	}
	sizes, err := s.sizes()
	if err != nil {
		return nil, fmt.Errorf("list cache snapshots: their sizes: %w", err)
	}
	out[0].Size = sizes[s.defName]
	for i := range snaps {
		snaps[i].Size = sizes[snaps[i].Name]
	}
	slices.SortFunc(snaps, func(a, b store.Snapshot) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return append(out, snaps...), nil
}

func statxTime(t unix.StatxTimestamp) time.Time {
	if t.Sec == 0 && t.Nsec == 0 {
		return time.Time{}
	}
	return time.Unix(t.Sec, int64(t.Nsec)).UTC()
}
