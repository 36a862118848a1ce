package btrfsstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/rigplan/rigplan/cache/store"
)

// metaDir is the directory, inside the store's directory, that holds one
// sidecar file per snapshot. Its name starts with '.', which no snapshot
// name may, so it never collides with one.
const metaDir = ".rigplan"

// sidecarVersion is written in every sidecar; a sidecar of another
// version is unreadable, and its snapshot reported Pending.
const sidecarVersion = 1

// sidecar is a snapshot's metadata file. The data lives in the subvolume,
// which the job can write; the metadata lives outside it, where the job
// cannot reach it (xattrs on the subvolume's root would be writable by
// the job, and every snapshot would inherit its origin's).
type sidecar struct {
	Version     int         `json:"version"`
	State       store.State `json:"state"`
	Created     time.Time   `json:"created"`
	Machine     string      `json:"machine,omitempty"`
	Origin      string      `json:"origin,omitempty"`
	Annotations []string    `json:"annotations,omitempty"`
}

// parseSidecar reads a sidecar file's content, refusing anything the
// store would not have written.
func parseSidecar(b []byte) (sidecar, error) {
	var m sidecar
	if err := json.Unmarshal(b, &m); err != nil {
		return sidecar{}, err
	}
	switch {
	case m.Version != sidecarVersion:
		return sidecar{}, fmt.Errorf("version %d, want %d", m.Version, sidecarVersion)
	case !m.State.Valid():
		return sidecar{}, fmt.Errorf("unknown state %q", m.State)
	case m.Created.IsZero():
		return sidecar{}, errors.New("no creation time")
	case slices.Contains(m.Annotations, ""):
		return sidecar{}, errors.New("an empty annotation")
	}
	return m, nil
}

// newSidecar returns the metadata of a snapshot made now, with its
// annotations deduplicated and sorted.
func newSidecar(st store.State, machine, origin string, annotations []string) (sidecar, error) {
	terms := slices.Clone(annotations)
	slices.Sort(terms)
	terms = slices.Compact(terms)
	if slices.Contains(terms, "") {
		return sidecar{}, errors.New("an annotation is empty: every term needs at least one character")
	}
	return sidecar{
		Version: sidecarVersion, State: st, Created: time.Now().UTC(),
		Machine: machine, Origin: origin, Annotations: terms,
	}, nil
}

// writeSidecar replaces a sidecar atomically: a temporary file in the same
// directory, renamed over the old one, so a reader (or a crash) sees the
// old file or the new one, never half of one. With durable set the file
// is fsynced before the rename and the directory after it, so that a
// sealed state survives a power cut; other states are not worth the wait
// (after a power cut every pending and in-use snapshot is dead anyway, and
// a sidecar lost to it makes its snapshot Pending, which is deleted).
func writeSidecar(dir, name string, m sidecar, durable bool) (err error) {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if m.State == store.Sealed {
		err = f.Chmod(sealedMode)
	}
	if err == nil {
		_, err = f.Write(append(b, '\n'))
	}
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	if durable {
		return syncDir(dir)
	}
	return nil
}

// readSidecar reads and parses the sidecar at path, and returns its
// mode too (see sealedMode).
func readSidecar(path string) (sidecar, os.FileMode, error) {
	f, err := os.Open(path)
	if err != nil {
		return sidecar{}, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return sidecar{}, 0, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return sidecar{}, 0, err
	}
	m, err := parseSidecar(b)
	return m, st.Mode(), err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
