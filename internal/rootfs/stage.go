package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// stageInfix names what a run keeps next to a destination while it works:
// ".NAME.rigplan-new-…" being made, ".NAME.rigplan-old-…" being removed.
const stageInfix = ".rigplan-"

// Stage is a directory being made next to the directory it will replace.
type Stage struct {
	dest string
	dir  string
}

// NewStage creates an empty, private (0700) directory next to dest, on the
// same filesystem, so that Commit can rename it into place.
func NewStage(dest string) (*Stage, error) {
	parent, base := filepath.Split(filepath.Clean(dest))
	dir, err := os.MkdirTemp(parent, "."+base+stageInfix+"new-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary directory next to %s: %w", dest, err)
	}
	return &Stage{dest: filepath.Clean(dest), dir: dir}, nil
}

// Dir is the directory to fill.
func (s *Stage) Dir() string { return s.dir }

// LeftoverError says that the new tree is in place but the old one could
// not be removed entirely; RemoveStale tries again.
type LeftoverError struct {
	Path string
	Err  error
}

func (e *LeftoverError) Error() string {
	return fmt.Sprintf("the new %s is in place, but removing the old copy at %s failed: %v", filepath.Base(e.Path), e.Path, e.Err)
}

func (e *LeftoverError) Unwrap() error { return e.Err }

// Commit puts the stage in place of dest in one step: readers see the old
// tree or the new one, never a mix. The old tree is then removed; if that
// fails, the error is a *LeftoverError and the new tree is in place.
func (s *Stage) Commit() error {
	err := unix.Renameat2(unix.AT_FDCWD, s.dir, unix.AT_FDCWD, s.dest, unix.RENAME_NOREPLACE)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("moving %s into place: %w", s.dest, err)
	}
	err = unix.Renameat2(unix.AT_FDCWD, s.dir, unix.AT_FDCWD, s.dest, unix.RENAME_EXCHANGE)
	if err != nil {
		return fmt.Errorf("exchanging %s with its new version: %w", s.dest, err)
	}
	// s.dir now holds the old tree.
	if err := os.RemoveAll(s.dir); err != nil {
		return &LeftoverError{Path: s.dir, Err: err}
	}
	return nil
}

// Discard removes the stage and everything in it.
func (s *Stage) Discard() error { return os.RemoveAll(s.dir) }

// Remove deletes the tree at dest. It is first renamed aside, so that a
// removal that fails half-way leaves nothing half-deleted under dest's
// name. A missing dest is not an error.
func Remove(dest string) error {
	dest = filepath.Clean(dest)
	parent, base := filepath.Split(dest)
	aside, err := os.MkdirTemp(parent, "."+base+stageInfix+"old-")
	if err != nil {
		return fmt.Errorf("removing %s: %w", dest, err)
	}
	err = unix.Renameat2(unix.AT_FDCWD, dest, unix.AT_FDCWD, aside, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOENT) {
		return os.Remove(aside)
	}
	if err != nil {
		os.Remove(aside)
		return fmt.Errorf("removing %s: %w", dest, err)
	}
	// dest is now the empty directory made above; aside holds the tree.
	if err := os.Remove(dest); err != nil {
		return fmt.Errorf("removing %s: %w", dest, err)
	}
	if err := os.RemoveAll(aside); err != nil {
		return &LeftoverError{Path: aside, Err: err}
	}
	return nil
}

// RemoveStale removes what an interrupted run left next to dest (stages
// never committed, old trees never removed). It reports what it removed.
func RemoveStale(dest string) ([]string, error) {
	dest = filepath.Clean(dest)
	parent, base := filepath.Split(dest)
	matches, err := filepath.Glob(filepath.Join(parent, "."+globEscape(base)+stageInfix+"*"))
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, m := range matches {
		if err := os.RemoveAll(m); err != nil {
			return removed, fmt.Errorf("removing the leftover %s: %w", m, err)
		}
		removed = append(removed, m)
	}
	return removed, nil
}

// globEscape quotes glob metacharacters in a literal file name.
func globEscape(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch r {
		case '*', '?', '[', '\\':
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}
