package protocol

import (
	"errors"
	"fmt"
	"strconv"
)

// The host operator's commands, gc and rm, answer with the lines below.
// The agent accepts them only from root on the host, never from a
// machine: a job must not delete another job's caches.

// Tags of the data lines gc writes.
const (
	// TagDelete: a snapshot gc deleted, or in a dry run would delete.
	TagDelete = "delete"
	// TagKeep: a snapshot gc meant to delete but could not (in use, or
	// the store failed); it is tried again at the next run.
	TagKeep = "keep"
)

// Deletion is one data line of gc: delete NAME REASON, or keep NAME
// REASON for one that could not be deleted.
type Deletion struct {
	Name string
	// Reason says why the snapshot goes ("older than 168h0m0s", "newest
	// 3 of its annotations kept", "pool over its high watermark"), or,
	// for a kept one, why it could not.
	Reason string
}

// GCResult is the answer to gc:
//
//	delete NAME REASON    (one per snapshot deleted)
//	keep NAME REASON      (one per snapshot that could not be)
//	ok MODE COUNT
//
// MODE is "deleted", or "dry-run" when nothing was deleted and the delete
// lines say what would have been. COUNT is the number of delete lines.
type GCResult struct {
	DryRun  bool
	Deleted []Deletion
	Kept    []Deletion
}

// The MODE field of gc's ok line.
const (
	gcDeleted = "deleted"
	gcDryRun  = DryRunWord
)

// Response returns the ok response that carries g.
func (g GCResult) Response() *Response {
	resp := OK(gcDeleted, strconv.Itoa(len(g.Deleted)))
	if g.DryRun {
		resp.Fields[0] = gcDryRun
	}
	for _, d := range g.Deleted {
		resp.Records = append(resp.Records, Record{Tag: TagDelete, Fields: []string{d.Name, d.Reason}})
	}
	for _, d := range g.Kept {
		resp.Records = append(resp.Records, Record{Tag: TagKeep, Fields: []string{d.Name, d.Reason}})
	}
	return resp
}

// ParseGCResult reads the answer to gc. An error line gives an error
// wrapping ErrRefused.
func ParseGCResult(resp *Response) (GCResult, error) {
	if err := resp.Err(); err != nil {
		return GCResult{}, err
	}
	if len(resp.Fields) < 2 {
		return GCResult{}, fmt.Errorf("gc answer has fields %q, want a mode and a count", resp.Fields)
	}
	var g GCResult
	switch resp.Fields[0] {
	case gcDeleted:
	case gcDryRun:
		g.DryRun = true
	default:
		return GCResult{}, fmt.Errorf("gc answer has mode %q, want %q or %q", resp.Fields[0], gcDeleted, gcDryRun)
	}
	for _, rec := range resp.Records {
		if rec.Tag != TagDelete && rec.Tag != TagKeep {
			continue
		}
		if len(rec.Fields) < 2 || rec.Fields[0] == "" {
			return GCResult{}, fmt.Errorf("gc answer: %s line with fields %q, want a name and a reason", rec.Tag, rec.Fields)
		}
		d := Deletion{Name: rec.Fields[0], Reason: rec.Fields[1]}
		if rec.Tag == TagDelete {
			g.Deleted = append(g.Deleted, d)
		} else {
			g.Kept = append(g.Kept, d)
		}
	}
	if n, err := strconv.Atoi(resp.Fields[1]); err != nil || n != len(g.Deleted) {
		return GCResult{}, fmt.Errorf("gc answer counts %q deletions but lists %d", resp.Fields[1], len(g.Deleted))
	}
	return g, nil
}

// RemoveResult is the answer to rm: ok NAME.
type RemoveResult struct {
	Snapshot string // the snapshot deleted
}

// Response returns the ok response that carries r.
func (r RemoveResult) Response() *Response { return OK(r.Snapshot) }

// ParseRemoveResult reads the answer to rm.
func ParseRemoveResult(resp *Response) (RemoveResult, error) {
	if err := resp.Err(); err != nil {
		return RemoveResult{}, err
	}
	if len(resp.Fields) < 1 || resp.Fields[0] == "" {
		return RemoveResult{}, errors.New("rm answer names no snapshot")
	}
	return RemoveResult{Snapshot: resp.Fields[0]}, nil
}
