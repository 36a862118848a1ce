package match

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/internal/lvmtag"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// snap is a sealed, idle candidate created minutes after t0.
func snap(name string, minutes int, terms ...string) Candidate {
	return Candidate{Name: name, Annotations: NewTerms(terms...), Created: t0.Add(time.Duration(minutes) * time.Minute), Sealed: true}
}

func inUse(c Candidate) Candidate    { c.InUse = true; return c }
func unsealed(c Candidate) Candidate { c.Sealed = false; return c }

func TestMatch(t *testing.T) {
	long := strings.Repeat("0123456789abcdef", 19) // a 304-character hash
	tests := []struct {
		name      string
		criteria  [][]string
		cands     []Candidate
		want      string // candidate name, "" for no match
		criterion int
	}{
		{
			"first criterion wins over a newer match of a later one",
			[][]string{{"linux", "abc"}, {"linux"}},
			[]Candidate{snap("old-abc", 1, "linux", "abc"), snap("new", 9, "linux")},
			"old-abc", 0,
		},
		{
			"falls through to a later criterion",
			[][]string{{"linux", "abc"}, {"linux"}},
			[]Candidate{snap("a", 1, "linux", "def"), snap("b", 2, "windows")},
			"a", 1,
		},
		{
			"every term must be present, in any order",
			[][]string{{"abc", "linux", "main"}},
			[]Candidate{snap("two", 5, "linux", "abc"), snap("all", 1, "main", "x", "abc", "linux")},
			"all", 0,
		},
		{
			"terms are matched whole, not as prefixes",
			[][]string{{"npm-feature"}},
			[]Candidate{snap("a", 1, "npm-feature-d5ea0750"), snap("b", 2, "npm")},
			"", -1,
		},
		{
			"newest match wins",
			[][]string{{"linux"}},
			[]Candidate{snap("mid", 5, "linux"), snap("new", 9, "linux"), snap("old", 1, "linux")},
			"new", 0,
		},
		{
			"same time: the name that sorts last wins",
			[][]string{{"linux"}},
			[]Candidate{snap("rigplan-0002", 5, "linux"), snap("rigplan-0010", 5, "linux"), snap("rigplan-0001", 5, "linux")},
			"rigplan-0010", 0,
		},
		{
			"in use is never an origin, however good a match",
			[][]string{{"linux", "abc"}, {"linux"}},
			[]Candidate{inUse(snap("live", 9, "linux", "abc")), snap("idle", 1, "linux")},
			"idle", 1,
		},
		{
			"unsealed is never an origin",
			[][]string{{"linux"}},
			[]Candidate{unsealed(snap("open", 9, "linux")), snap("sealed", 1, "linux")},
			"sealed", 0,
		},
		{
			"only ineligible matches: default volume",
			[][]string{{"linux"}},
			[]Candidate{unsealed(snap("a", 1, "linux")), inUse(snap("b", 2, "linux"))},
			"", -1,
		},
		{
			"empty criterion matches the newest eligible snapshot",
			[][]string{{"nope"}, {}},
			[]Candidate{snap("a", 1, "x"), snap("b", 3), inUse(snap("c", 9, "y"))},
			"b", 1,
		},
		{
			"empty criterion still loses to an earlier criterion",
			[][]string{{"x"}, {}},
			[]Candidate{snap("a", 1, "x"), snap("b", 3)},
			"a", 0,
		},
		{"no criteria: default volume", nil, []Candidate{snap("a", 1, "x")}, "", -1},
		{"no candidates: default volume", [][]string{{}}, nil, "", -1},
		{
			"unicode and long terms",
			[][]string{{"feature/ünïcode-branch", long}},
			[]Candidate{snap("a", 1, "feature/ünïcode-branch", long[:300]), snap("b", 2, "feature/ünïcode-branch", long)},
			"b", 0,
		},
		{
			"terms are case-sensitive and unnormalised",
			[][]string{{"Linux"}, {"e\u0301"}}, // e + combining acute
			[]Candidate{snap("a", 1, "linux"), snap("b", 2, "\u00e9")},
			"", -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, k, ok := Match(tt.criteria, tt.cands)
			if tt.want == "" {
				if ok || k != -1 {
					t.Errorf("Match = %q, criterion %d, ok; want no match", got.Name, k)
				}
				return
			}
			if !ok || got.Name != tt.want || k != tt.criterion {
				t.Errorf("Match = %q, criterion %d, ok=%v; want %q, criterion %d", got.Name, k, ok, tt.want, tt.criterion)
			}
		})
	}
}

// TestMatchIndependentOfOrder checks that the answer does not depend on the
// order the store lists candidates in.
func TestMatchIndependentOfOrder(t *testing.T) {
	cands := []Candidate{
		snap("a", 5, "linux"), snap("b", 5, "linux"), snap("c", 4, "linux", "abc"),
		snap("d", 4, "linux", "abc"), inUse(snap("e", 9, "linux", "abc")), snap("f", 1),
	}
	criteria := [][]string{{"linux", "abc"}, {"linux"}, {}}
	want, wantK, _ := Match(criteria, cands)
	if want.Name != "d" || wantK != 0 {
		t.Fatalf("Match = %q, %d; want d, 0", want.Name, wantK)
	}
	perm := slices.Clone(cands)
	for i := range 50 {
		// A fixed sequence of rotations and reversals covers many orders.
		if i%2 == 0 {
			slices.Reverse(perm)
		} else {
			perm = append(perm[1:], perm[0])
		}
		if got, k, _ := Match(criteria, perm); got.Name != want.Name || k != wantK {
			t.Fatalf("order %v: Match = %q, %d; want %q, %d", names(perm), got.Name, k, want.Name, wantK)
		}
	}
}

func names(cs []Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// TestMatchOnLVMTags matches as an LVM store will, on terms encoded into
// tags (overlong ones hashed), and gets the same answers as on raw terms.
func TestMatchOnLVMTags(t *testing.T) {
	long := strings.Repeat("ä/", 150)
	raw := []Candidate{
		snap("a", 1, "linux", "feature/ünïcode-branch", long),
		snap("b", 2, "linux", "feature/ünïcode-branch", long+"x"),
		snap("c", 3, "linux", "a b"),
	}
	enc := func(s string) string { return lvmtag.EncodeTerm(s, lvmtag.MaxTagLen) }
	encoded := make([]Candidate, len(raw))
	for i, c := range raw {
		encoded[i] = c
		encoded[i].Annotations = Terms{}
		for term := range c.Annotations {
			encoded[i].Annotations[enc(term)] = struct{}{}
		}
	}
	for _, criteria := range [][][]string{
		{{"linux", long}},
		{{long + "x"}},
		{{"a b"}},
		{{"feature/ünïcode-branch"}, {"linux"}},
		{{long[:len(long)-1]}},
	} {
		want, wantK, wantOK := Match(criteria, raw)
		encCriteria := make([][]string, len(criteria))
		for i, c := range criteria {
			for _, term := range c {
				encCriteria[i] = append(encCriteria[i], enc(term))
			}
		}
		got, k, ok := Match(encCriteria, encoded)
		if got.Name != want.Name || k != wantK || ok != wantOK {
			t.Errorf("criteria %q: on tags %q, %d, %v; on terms %q, %d, %v", criteria, got.Name, k, ok, want.Name, wantK, wantOK)
		}
	}
}

func TestTerms(t *testing.T) {
	s := NewTerms("linux", "main", "linux", "ü")
	if len(s) != 3 || !s.Has("ü") || s.Has("lin") {
		t.Errorf("NewTerms = %v", s)
	}
	if !s.HasAll(nil) || !s.HasAll([]string{"main", "linux"}) || s.HasAll([]string{"linux", "dev"}) {
		t.Error("HasAll is wrong")
	}
	if got := s.Sorted(); !slices.Equal(got, []string{"linux", "main", "ü"}) {
		t.Errorf("Sorted = %q", got)
	}
	var none Terms
	if none.Has("x") || !none.HasAll(nil) || none.HasAll([]string{"x"}) || len(none.Sorted()) != 0 {
		t.Error("a nil Terms is not an empty set")
	}
}

// BenchmarkMatch measures a host with 10,000 snapshots and a usual request:
// three criteria, the first matching a few old snapshots.
func BenchmarkMatch(b *testing.B) {
	cands := make([]Candidate, 10000)
	for i := range cands {
		branch := fmt.Sprintf("feature/%d", i%50)
		hash := fmt.Sprintf("%064x", i%400)
		cands[i] = snap(fmt.Sprintf("rigplan-%05d", i), i, "linux", branch, hash)
		cands[i].InUse = i%97 == 0
	}
	criteria := [][]string{
		{"linux", fmt.Sprintf("%064x", 7)},
		{"linux", "feature/7"},
		{"linux"},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, k, ok := Match(criteria, cands); !ok || k != 0 {
			b.Fatal("no match")
		}
	}
}

// BenchmarkMatchNoMatch is the worst case: every criterion is tried on
// every candidate and the default volume is used.
func BenchmarkMatchNoMatch(b *testing.B) {
	cands := make([]Candidate, 10000)
	for i := range cands {
		cands[i] = snap(fmt.Sprintf("rigplan-%05d", i), i, "linux", fmt.Sprintf("%064x", i))
	}
	criteria := [][]string{{"windows", "x"}, {"windows"}, {"darwin"}}
	for b.Loop() {
		if _, _, ok := Match(criteria, cands); ok {
			b.Fatal("unexpected match")
		}
	}
}
