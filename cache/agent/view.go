package agent

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"slices"

	"github.com/rigplan/rigplan/cache/match"
	"github.com/rigplan/rigplan/cache/store"
)

// entry is the agent's view of one snapshot: what the store says about
// it, and what the agent is doing with it. Guarded by Agent.mu.
type entry struct {
	snap store.Snapshot
	// raw are the annotations as the request wrote them, when this run of
	// the agent made the snapshot (the store may keep a hashed form).
	raw []string
	// op names the operation that holds the snapshot ("mount", "save",
	// "finish", "delete"), "" when none: the store's calls on one
	// snapshot must not overlap, and retention leaves held ones alone.
	op string
	// pins counts requests copying it (as an origin, or as the source of
	// a save): it must not be deleted under them.
	pins int
	// machine and path say where it is mounted while in use (machine is
	// nil when the agent does not watch that machine).
	machine *machine
	path    string
	// id identifies mounts of it in mount tables, once known.
	id mountID
	// finish: its machine is gone; seal it (or discard it) once nothing
	// holds its filesystem any more.
	finish bool
}

// add enters a snapshot the agent is making into the view. Call with
// a.mu held.
func (a *Agent) add(e *entry) {
	a.snaps[e.snap.Name] = e
	a.touch(e.snap.Name)
}

// remove takes a snapshot out of the view (it is gone from the store, or
// never got there). Call with a.mu held.
func (a *Agent) remove(name string) {
	if e, ok := a.snaps[name]; ok {
		a.unregister(e)
		delete(a.snaps, name)
	}
	a.touch(name)
}

// touch records, while reconcile is reading the store, that the view
// changed for name: what reconcile read about it may be older than the
// view, so it leaves the view's entry as it is. Call with a.mu held.
func (a *Agent) touch(name string) {
	if a.touched != nil {
		a.touched[name] = true
	}
}

// inUse reports whether the snapshot is, or is becoming, mounted in a
// machine: never an origin, never deleted by retention.
func (e *entry) inUse() bool { return e.snap.State == store.InUse || e.op == "mount" }

// hold marks the snapshot held by op; false if another operation holds it.
func (e *entry) hold(op string) bool {
	if e.op != "" {
		return false
	}
	e.op = op
	return true
}

// stateCounts counts snapshots by state.
type stateCounts struct{ pending, inUse, sealed int }

// countStates counts the view's snapshots (not the default volume). Call
// with a.mu held.
func (a *Agent) countStates() stateCounts {
	var c stateCounts
	for _, e := range a.snaps {
		switch {
		case e.snap.Default:
		case e.snap.State == store.Sealed:
			c.sealed++
		case e.snap.State == store.InUse:
			c.inUse++
		default:
			c.pending++
		}
	}
	return c
}

// candidates returns the snapshots matching may copy, with annotations
// in the store's Term form. Call with a.mu held.
func (a *Agent) candidates() []match.Candidate {
	out := make([]match.Candidate, 0, len(a.snaps))
	for _, e := range a.snaps {
		if e.snap.Default || e.op == "delete" {
			continue
		}
		out = append(out, match.Candidate{
			Name:        e.snap.Name,
			Annotations: match.NewTerms(e.snap.Annotations...),
			Created:     e.snap.Created,
			Sealed:      e.snap.State == store.Sealed,
			InUse:       e.inUse(),
		})
	}
	return out
}

// storeTerms maps criteria to the form the store keeps terms in.
func (a *Agent) storeTerms(criteria [][]string) [][]string {
	out := make([][]string, len(criteria))
	for i, c := range criteria {
		out[i] = make([]string, len(c))
		for j, t := range c {
			out[i][j] = a.store.Term(t)
		}
	}
	return out
}

// newName returns a snapshot name not yet taken: a UTC timestamp, so
// names sort by creation, and random hex, so that two agents or two
// requests in one second never collide. Call with a.mu held.
func (a *Agent) newName() string {
	for {
		var b [4]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand)
		name := "cache-" + a.now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
		if _, taken := a.snaps[name]; !taken && name != a.def {
			return name
		}
	}
}

// sorted returns the view's snapshots oldest first, for ls. Call with
// a.mu held.
func (a *Agent) sorted() []*entry {
	out := make([]*entry, 0, len(a.snaps))
	for _, e := range a.snaps {
		if !e.snap.Default {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(x, y *entry) int {
		if c := x.snap.Created.Compare(y.snap.Created); c != 0 {
			return c
		}
		return cmp.Compare(x.snap.Name, y.snap.Name)
	})
	return out
}
