package protocol

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Each typed result below reads only the fields it knows and ignores any
// that follow, so the agent may append fields to a line without breaking
// clients built before.

// DefaultCriterion is the CRITERION field of a mount that matched no
// criterion and copied the default volume. A criterion that matched is
// written with its "> " marker (see CriterionText), so it never collides.
const DefaultCriterion = "default"

// MountResult is the answer to mount: ok PATH CRITERION SNAPSHOT.
type MountResult struct {
	// Path is the mount path from the request, now holding the copy.
	Path string
	// Default reports that no criterion matched and the copy is of the
	// default volume; Criterion is then nil.
	Default bool
	// Criterion holds the terms of the criterion that matched, as the
	// request wrote them; empty for an empty criterion.
	Criterion []string
	// Snapshot names the new snapshot, for ls, rm and logs.
	Snapshot string
}

// Response returns the ok response that carries m.
func (m MountResult) Response() *Response {
	criterion := DefaultCriterion
	if !m.Default {
		criterion = CriterionText(m.Criterion)
	}
	return OK(m.Path, criterion, m.Snapshot)
}

// ParseMountResult reads the answer to a mount request. An error line
// gives an error wrapping ErrRefused.
func ParseMountResult(resp *Response) (MountResult, error) {
	if err := resp.Err(); err != nil {
		return MountResult{}, err
	}
	if len(resp.Fields) < 3 {
		return MountResult{}, fmt.Errorf("mount answer has %d fields, want path, criterion and snapshot", len(resp.Fields))
	}
	m := MountResult{Path: resp.Fields[0], Snapshot: resp.Fields[2]}
	switch c := resp.Fields[1]; {
	case c == DefaultCriterion:
		m.Default = true
	case strings.HasPrefix(c, ">"):
		m.Criterion = splitTerms(c[1:])
	default:
		return MountResult{}, fmt.Errorf("mount answer names the criterion %q, want %q or \"> terms\"", c, DefaultCriterion)
	}
	if m.Path == "" || m.Snapshot == "" {
		return MountResult{}, errors.New("mount answer has an empty path or snapshot name")
	}
	return m, nil
}

// SaveResult is the answer to save: ok PATH SNAPSHOT.
type SaveResult struct {
	Path     string
	Snapshot string // the snapshot just sealed
}

// Response returns the ok response that carries s.
func (s SaveResult) Response() *Response { return OK(s.Path, s.Snapshot) }

// ParseSaveResult reads the answer to a save request.
func ParseSaveResult(resp *Response) (SaveResult, error) {
	if err := resp.Err(); err != nil {
		return SaveResult{}, err
	}
	if len(resp.Fields) < 2 || resp.Fields[0] == "" || resp.Fields[1] == "" {
		return SaveResult{}, fmt.Errorf("save answer has fields %q, want a path and a snapshot name", resp.Fields)
	}
	return SaveResult{Path: resp.Fields[0], Snapshot: resp.Fields[1]}, nil
}

// Tags of the data lines the agent writes.
const (
	TagSnapshot = "snapshot"
	TagStat     = "stat"
)

// none stands for an empty state or a missing origin in a snapshot line;
// neither a state word nor a volume name can be "-".
const none = "-"

// Snapshot is one data line of ls:
//
//	snapshot NAME CREATED STATE ORIGIN ANNOTATIONS MACHINE
//
// CREATED is RFC 3339 in UTC to the second (LVM's own precision). STATE is
// "sealed", "in-use", both joined by a comma, or "-" for neither (a
// snapshot that was never saved, waiting for GC). ORIGIN is the snapshot or
// volume it was copied from, or "-" when that is gone. ANNOTATIONS are
// its terms joined by single spaces, the way a "<" line writes them.
// MACHINE is the machine it is (or was last) mounted in, or "-"; agents
// before it was added wrote five fields, which read as no machine.
type Snapshot struct {
	Name        string
	Created     time.Time
	Sealed      bool
	InUse       bool
	Origin      string
	Annotations []string
	Machine     string
}

// Record returns the data line for s. Created is written in UTC to the
// second, so a snapshot read back has Created.UTC().Truncate(time.Second).
func (s Snapshot) Record() (Record, error) {
	switch {
	case s.Name == "":
		return Record{}, errors.New("snapshot line: the name is empty")
	case s.Origin == none:
		return Record{}, fmt.Errorf("snapshot %q: origin %q would read as no origin", s.Name, none)
	case s.Machine == none:
		return Record{}, fmt.Errorf("snapshot %q: machine %q would read as no machine", s.Name, none)
	}
	for _, t := range s.Annotations {
		if t == "" || strings.ContainsAny(t, " \t") {
			return Record{}, fmt.Errorf("snapshot %q: annotation %q is empty or holds whitespace", s.Name, t)
		}
	}
	var state []string
	if s.Sealed {
		state = append(state, "sealed")
	}
	if s.InUse {
		state = append(state, "in-use")
	}
	origin := s.Origin
	if origin == "" {
		origin = none
	}
	return Record{Tag: TagSnapshot, Fields: []string{
		s.Name,
		s.Created.UTC().Format(time.RFC3339),
		orNone(strings.Join(state, ",")),
		origin,
		strings.Join(s.Annotations, " "),
		orNone(s.Machine),
	}}, nil
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

// ParseSnapshot reads a snapshot data line.
func ParseSnapshot(rec Record) (Snapshot, error) {
	if rec.Tag != TagSnapshot || len(rec.Fields) < 5 {
		return Snapshot{}, fmt.Errorf("want a %s line with 5 fields, got %s with %d", TagSnapshot, rec.Tag, len(rec.Fields))
	}
	f := rec.Fields
	s := Snapshot{Name: f[0], Annotations: splitTerms(f[4])}
	if s.Name == "" {
		return Snapshot{}, errors.New("snapshot line: the name is empty")
	}
	created, err := time.Parse(time.RFC3339, f[1])
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %q: created time: %w", s.Name, err)
	}
	s.Created = created.UTC()
	if f[2] != none {
		for word := range strings.SplitSeq(f[2], ",") {
			switch {
			case word == "sealed" && !s.Sealed:
				s.Sealed = true
			case word == "in-use" && !s.InUse:
				s.InUse = true
			default:
				return Snapshot{}, fmt.Errorf("snapshot %q: state %q, want sealed, in-use, both joined by a comma, or -", s.Name, f[2])
			}
		}
	}
	if f[3] != none {
		s.Origin = f[3]
	}
	if len(f) > 5 && f[5] != none {
		s.Machine = f[5]
	}
	return s, nil
}

// Stat is one data line of stats: stat KEY VALUE. Keys are dotted
// lower-case names chosen by the agent (snapshots.sealed, pool.data_percent).
type Stat struct {
	Key, Value string
}

// Record returns the data line for s.
func (s Stat) Record() Record { return Record{Tag: TagStat, Fields: []string{s.Key, s.Value}} }

// ParseStat reads a stat data line.
func ParseStat(rec Record) (Stat, error) {
	if rec.Tag != TagStat || len(rec.Fields) < 2 || rec.Fields[0] == "" {
		return Stat{}, fmt.Errorf("want a %s line with a key and a value, got %s with fields %q", TagStat, rec.Tag, rec.Fields)
	}
	return Stat{Key: rec.Fields[0], Value: rec.Fields[1]}, nil
}
