package lvmstore

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/lvmtag"
)

// Tag kinds after the namespace: NS:snapshot, NS:state:…, NS:created:…,
// NS:machine:…, NS:cache:…, NS:mapped:…, NS:base:….
const (
	kindMember  = "snapshot"
	kindState   = "state:"
	kindCreated = "created:"
	kindMachine = "machine:"
	kindTerm    = "cache:"
	// kindMapped is the bytes a sealed snapshot maps in the pool,
	// recorded while it was still active (lvs reports no data use of an
	// inactive thin volume); kindBase is the bytes its origin mapped
	// when it was made. See "Sizes" in the package doc.
	kindMapped = "mapped:"
	kindBase   = "base:"
)

// createdLayout is the created tag's time format: UTC with nanoseconds,
// all in LVM's tag alphabet. LVM's own lv_time has whole seconds only,
// and two snapshots made in one second are common.
const createdLayout = "2006-01-02T15:04:05.999999999Z"

// tagScheme writes and reads the tags of one namespace.
type tagScheme struct{ ns string }

func (t tagScheme) tag(kind, value string) string { return t.ns + ":" + kind + value }

// member is the membership tag: an LV without it is not the store's.
func (t tagScheme) member() string { return t.tag(kindMember, "") }

func (t tagScheme) state(s store.State) string { return t.tag(kindState, string(s)) }

// term is the form an annotation term is kept in: the term itself when its
// encoding fits TermMax, else the hashed encoding.
func term(s string) string {
	enc := lvmtag.EncodeTerm(s, TermMax)
	if lvmtag.IsHashed(enc) {
		return enc
	}
	return s
}

// newTags returns the tags of a snapshot made now, and its annotations as
// List will report them (Term form, duplicates dropped, sorted).
func (t tagScheme) newTags(st store.State, created time.Time, machine string, annotations []string) (tags, terms []string, err error) {
	tags = []string{t.member(), t.state(st), t.tag(kindCreated, created.UTC().Format(createdLayout)), lvmtag.CacheSnapshot}
	if machine != "" {
		tags = append(tags, t.tag(kindMachine, lvmtag.EncodeTerm(machine, TermMax)))
	}
	seen := map[string]bool{}
	for _, a := range annotations {
		if a == "" {
			return nil, nil, fmt.Errorf("annotation %d is empty: every term needs at least one character", len(terms))
		}
		if seen[a] {
			continue
		}
		seen[a] = true
		tags = append(tags, t.tag(kindTerm, lvmtag.EncodeTerm(a, TermMax)))
		terms = append(terms, term(a))
	}
	slices.Sort(terms)
	return tags, terms, nil
}

// parsedTags is what an LV's tags say about it.
type parsedTags struct {
	member      bool
	state       store.State
	created     time.Time
	machine     string
	annotations []string
	// mapped and base are the values of the NS:mapped and NS:base
	// tags, -1 where there is none (or not exactly one readable one).
	mapped, base int64
	// problems lists tags that are not what Create, Copy or SetState
	// write; an LV with problems is reported Pending.
	problems []string
}

// parse reads the namespace's tags of one LV. Tags of other namespaces and
// unknown kinds in this one are ignored: a later release may add kinds.
func (t tagScheme) parse(tags []string) parsedTags {
	p := parsedTags{mapped: -1, base: -1}
	prefix := t.ns + ":"
	states := 0
	var mapped, base []string
	for _, tag := range tags {
		rest, ok := strings.CutPrefix(tag, prefix)
		if !ok {
			continue
		}
		switch {
		case rest == kindMember:
			p.member = true
		case strings.HasPrefix(rest, kindState):
			states++
			p.state = store.State(rest[len(kindState):])
			if !p.state.Valid() {
				p.problems = append(p.problems, tag)
			}
		case strings.HasPrefix(rest, kindCreated):
			c, err := time.Parse(createdLayout, rest[len(kindCreated):])
			if err != nil || !p.created.IsZero() {
				p.problems = append(p.problems, tag)
				continue
			}
			p.created = c
		case strings.HasPrefix(rest, kindMachine):
			m, err := decodeTerm(rest[len(kindMachine):])
			if err != nil || p.machine != "" {
				p.problems = append(p.problems, tag)
				continue
			}
			p.machine = m
		case strings.HasPrefix(rest, kindTerm):
			a, err := decodeTerm(rest[len(kindTerm):])
			if err != nil {
				p.problems = append(p.problems, tag)
				continue
			}
			p.annotations = append(p.annotations, a)
		case strings.HasPrefix(rest, kindMapped):
			mapped = append(mapped, rest[len(kindMapped):])
		case strings.HasPrefix(rest, kindBase):
			base = append(base, rest[len(kindBase):])
		}
	}
	// A size tag that is not one the store writes makes the size
	// unknown, not the snapshot garbage: it is a measurement, and the
	// snapshot's contents are as good as ever.
	p.mapped, p.base = parseBytes(mapped), parseBytes(base)
	switch {
	case states == 0:
		p.problems = append(p.problems, "no "+prefix+kindState+" tag")
	case states > 1:
		p.problems = append(p.problems, "several "+prefix+kindState+" tags")
	}
	if p.created.IsZero() {
		p.problems = append(p.problems, "no "+prefix+kindCreated+" tag")
	}
	if len(p.problems) > 0 {
		p.state = store.Pending
	}
	slices.Sort(p.annotations)
	return p
}

// bytesTag is the tag of kind (kindMapped, kindBase) for n bytes.
func (t tagScheme) bytesTag(kind string, n int64) string {
	return t.tag(kind, strconv.FormatInt(n, 10))
}

// isBytesTag reports whether tag is one of kind (kindMapped, kindBase).
func (t tagScheme) isBytesTag(tag, kind string) bool {
	return strings.HasPrefix(tag, t.ns+":"+kind)
}

// parseBytes reads the values of one kind of size tag: a byte count as
// bytesTag writes it when there is exactly one, else -1.
func parseBytes(values []string) int64 {
	if len(values) != 1 {
		return -1
	}
	n, err := strconv.ParseInt(values[0], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != values[0] {
		return -1
	}
	return n
}

// decodeTerm turns an encoded term back into its Term form, refusing any
// encoding EncodeTerm would not have written for it.
func decodeTerm(enc string) (string, error) {
	if enc == "" {
		return "", fmt.Errorf("empty term")
	}
	if lvmtag.IsHashed(enc) {
		if len(enc) > TermMax {
			return "", fmt.Errorf("hashed term %q is longer than %d", enc, TermMax)
		}
		return enc, nil
	}
	s, err := lvmtag.Decode(enc)
	if err != nil {
		return "", err
	}
	if lvmtag.EncodeTerm(s, TermMax) != enc {
		return "", fmt.Errorf("term %q is too long to be kept unhashed", s)
	}
	return s, nil
}
