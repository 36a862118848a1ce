// Package store defines where the cache agent keeps snapshots. Two
// implementations live in sub-packages: lvmstore (LVM thin snapshots, the
// primary) and btrfsstore (btrfs subvolume snapshots). Both give O(1)
// restores: creating a snapshot costs the same whatever the cache holds.
//
// The store is the agent's database. Everything the agent must know after
// a restart is kept with the snapshots themselves: as tags on each thin
// volume (lvmstore), in a sidecar file beside each subvolume
// (btrfsstore).
//
// # Crash safety
//
// Every store keeps this promise: whatever point the agent (or a command
// it runs) is killed at, the store holds no snapshot that List does not
// report, and a snapshot whose creation did not finish is reported
// Pending. At start-up the agent deletes every Pending snapshot; while it
// runs, it deletes those that no request of its own is still making (see
// cache/retention).
//
// # Terms
//
// A store may not be able to keep every annotation term whole: LVM tags
// are short. Term gives the form a store keeps a term in, and List reports
// annotations in that form, so the agent compares Term(criterion term)
// with a snapshot's annotations. For a term the store keeps whole, Term
// is the term itself.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// State is where a snapshot is in its life.
type State string

const (
	// Pending: being created; a pending snapshot found at start-up was
	// left by a crash and is removed.
	Pending State = "pending"
	// InUse: mounted in a live machine; never an origin.
	InUse State = "in-use"
	// Sealed: finished; a candidate origin for later jobs.
	Sealed State = "sealed"
)

// Valid reports whether s is one of the three states.
func (s State) Valid() bool {
	return s == Pending || s == InUse || s == Sealed
}

// Snapshot is one cache snapshot, or the default volume.
type Snapshot struct {
	// Name is unique within the store and safe as an LV or directory name
	// (see CheckName).
	Name string
	// Annotations are the terms the request put on it, each in the form
	// Store.Term gives: the term as the workflow wrote it, or, for a term
	// the store could only keep hashed, the hashed form.
	Annotations []string
	Created     time.Time
	State       State
	// Machine is the machine the snapshot is (or was last) mounted in, or
	// whose cache a Copy saved.
	Machine string
	// Origin is the snapshot or default volume it was made from ("" when
	// unknown or gone).
	Origin string
	// Default marks the store's default volume. It is reported Sealed:
	// it is always a valid origin.
	Default bool
	// Size is the space the snapshot uses exclusively, with that of
	// what its job nested inside it (btrfs subvolumes), when the store
	// knows it (0 otherwise). The LVM store gives a lower bound: what
	// the snapshot maps beyond its origin (lvmstore's "Sizes").
	Size int64
}

// Usage is how full the store is, in percent, for retention watermarks.
type Usage struct {
	DataPercent     float64
	MetadataPercent float64 // 0 where the store has no separate metadata
	// DataBytes is the size of the data space in bytes, so that a
	// snapshot's Size can be turned into percent (0 when unknown).
	DataBytes int64
	// SizesLowerBound says the snapshots' Size may be less than what
	// they hold (the LVM store's, which misses overwrites): enough to
	// tell what caches in use hold at least, not to project how much a
	// deletion frees.
	SizesLowerBound bool
}

// Store keeps snapshots. Implementations are safe for concurrent use by
// the agent's request handlers, as long as no two calls work on the same
// snapshot name at once.
type Store interface {
	// List returns every snapshot of the store's namespace and the default
	// volume, read from the backing store (one command or directory scan).
	List(ctx context.Context) ([]Snapshot, error)
	// Term returns the form the store keeps an annotation term in: the
	// term itself, or a hashed form for a term too long to keep whole.
	// It is pure and the same in every release, so that a term hashed
	// by an older agent still matches.
	Term(term string) string
	// Create makes a writable snapshot named name of origin (a sealed
	// snapshot or the default volume), annotated and owned by machine,
	// in state Pending. It costs the same whatever origin holds. The
	// caller picks origin from List; Create does not re-read its state.
	Create(ctx context.Context, origin, name, machine string, annotations []string) (Snapshot, error)
	// Mount mounts the snapshot's filesystem at dir on the host, for the
	// agent to clone into a machine; Unmount undoes it.
	Mount(ctx context.Context, name, dir string) error
	Unmount(ctx context.Context, dir string) error
	// SetState records a snapshot's state (Pending → InUse → Sealed).
	// Sealing also stops writes for good: the LVM store deactivates the
	// snapshot, and so refuses one still mounted anywhere (unmount it
	// first); the btrfs store makes it read-only.
	SetState(ctx context.Context, name string, s State) error
	// Copy makes a sealed, read-only point-in-time snapshot named newName
	// of an in-use snapshot (the job's `save`), given the host mount at
	// dir so it can be synced or frozen first. machine is the machine
	// whose cache it saves.
	Copy(ctx context.Context, name, dir, newName, machine string, annotations []string) (Snapshot, error)
	// Delete removes a snapshot. It refuses the default volume.
	Delete(ctx context.Context, name string) error
	// Usage reports how full the store is.
	Usage(ctx context.Context) (Usage, error)
	// Describe names the store for an operator, as FullError.Store
	// does: "btrfs filesystem at /srv/cache/snapshots", "thin pool
	// vg0/pool".
	Describe() string
}

// ErrDefault is returned when an operation would delete or change the
// default volume.
var ErrDefault = errors.New("the default volume is never deleted or changed by the agent")

// ErrNotFound is returned for a snapshot name the store does not hold.
var ErrNotFound = errors.New("no such snapshot")

// ErrExists is returned by Create and Copy for a name already taken.
var ErrExists = errors.New("a snapshot of that name exists")

// ErrFull is what a store's operations wrap (in a *FullError) when the
// store has no room left for what they write: data or metadata space,
// or a snapshot's own quota.
var ErrFull = errors.New("the cache store is full")

// FullError says which store ran out of room, and how full it is. The
// agent answers a job with Store and Usage, never with Err.
type FullError struct {
	// Store names the store for an operator: "btrfs filesystem at
	// /srv/cache", "thin pool vg0/pool".
	Store string
	// Usage is the store's use when the operation failed; nil when it
	// could not be read.
	Usage *Usage
	// Err is the failure behind it (ENOSPC, EDQUOT, a command's stderr).
	Err error
}

func (e *FullError) Error() string {
	msg := "the cache store (" + e.Store + ") is full"
	if e.Usage != nil {
		msg += " (" + e.Usage.String() + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrFull) hold, and the cause reachable.
func (e *FullError) Unwrap() []error { return []error{ErrFull, e.Err} }

// String renders the use for a person: "data 97.3% used, metadata
// 12.0% used", without the metadata figure when the store has none.
func (u Usage) String() string {
	s := fmt.Sprintf("data %.1f%% used", u.DataPercent)
	if u.MetadataPercent > 0 {
		s += fmt.Sprintf(", metadata %.1f%% used", u.MetadataPercent)
	}
	return s
}

// MaxNameLen is the longest snapshot name: short enough for an LV name
// (127 bytes, less LVM's suffixes for hidden volumes) and a file name.
const MaxNameLen = 64

// CheckName reports whether name is a valid snapshot name in every store:
// 1 to MaxNameLen bytes of [A-Za-z0-9_.+-], starting with a letter or a
// digit. That is safe as an LV name (after the store's own reserved-word
// checks), as a file name, and in a tag or a log line; a leading '.' or
// '-' is refused so that names never look like hidden files or options.
func CheckName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("snapshot name %q: want 1 to %d characters", name, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '+' || c == '-'):
		default:
			return fmt.Errorf("snapshot name %q: byte %q at %d is not allowed (use letters, digits and _ . + -, starting with a letter or digit)", name, c, i)
		}
	}
	return nil
}
