package lvmstore

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/lvmtag"
)

func TestTermBoundary(t *testing.T) {
	fits := strings.Repeat("a", TermMax)
	over := strings.Repeat("a", TermMax+1)
	escaped := strings.Repeat("ü", TermMax/6) // 6 tag bytes each: &C3&BC
	tests := []struct {
		in     string
		whole  bool
		reason string
	}{
		{"linux", true, "short"},
		{fits, true, "exactly TermMax bytes encoded"},
		{over, false, "one byte over"},
		{escaped, true, "escapes count toward the limit, and fit"},
		{escaped + "a", false, "escapes count toward the limit, and do not fit"},
	}
	for _, tt := range tests {
		got := term(tt.in)
		if (got == tt.in) != tt.whole {
			t.Errorf("%s: term(%d bytes) = %q, whole=%v", tt.reason, len(tt.in), got, tt.whole)
		}
		if !tt.whole && (!lvmtag.IsHashed(got) || len(got) > TermMax) {
			t.Errorf("%s: hashed form %q is not a hashed term within %d bytes", tt.reason, got, TermMax)
		}
		// What the store writes decodes back to what Term said.
		back, err := decodeTerm(lvmtag.EncodeTerm(tt.in, TermMax))
		if err != nil || back != got {
			t.Errorf("%s: decodeTerm(encoded) = %q, %v; want %q", tt.reason, back, err, got)
		}
	}
}

func TestDecodeTermRefuses(t *testing.T) {
	for _, enc := range []string{
		"",
		"a&2fb",                        // lower-case hex: not Encode's
		"a&41",                         // 'A' needs no escape
		"a&",                           // cut short
		strings.Repeat("a", TermMax+1), // too long to be kept unhashed
		strings.Repeat("a", 40) + "&#" + strings.Repeat("0", 64), // hashed, but longer than TermMax
	} {
		if got, err := decodeTerm(enc); err == nil {
			t.Errorf("decodeTerm(%q) = %q, want an error", enc, got)
		}
	}
}

func TestNewTagsRoundTrip(t *testing.T) {
	ts := tagScheme{ns: "friend"}
	created := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.FixedZone("x", 3600))
	anns := []string{"refs/heads/ü", "linux", "linux", "a b", strings.Repeat("f", 300)}
	tags, terms, err := ts.newTags(store.InUse, created, "runner-1", anns)
	if err != nil {
		t.Fatal(err)
	}
	if tags[0] != "friend:snapshot" || tags[1] != "friend:state:in-use" || tags[2] != "friend:created:2024-05-01T11:00:00.123456789Z" {
		t.Errorf("tags start %q", tags[:3])
	}
	p := ts.parse(append(tags, "other:cache:x", "friend:future-kind:y"))
	if !p.member || p.state != store.InUse || !p.created.Equal(created) || p.machine != "runner-1" || len(p.problems) > 0 {
		t.Errorf("parse = %+v", p)
	}
	if !slices.Equal(p.annotations, terms) || len(terms) != 4 {
		t.Errorf("parsed annotations %q, newTags returned %q", p.annotations, terms)
	}
	if _, _, err := ts.newTags(store.Pending, created, "m", []string{"x", ""}); err == nil {
		t.Error("newTags accepted an empty term")
	}
}

// Tags the store would not write make a member Pending: retention then
// deletes it, as it does what a crash leaves.
func TestParseProblems(t *testing.T) {
	base := []string{"friend:snapshot", "friend:created:2024-05-01T12:00:00Z"}
	tests := []struct {
		name  string
		tags  []string
		state store.State
		bad   bool
	}{
		{"sealed", append(slices.Clone(base), "friend:state:sealed"), store.Sealed, false},
		{"no state", base, store.Pending, true},
		{"two states", append(slices.Clone(base), "friend:state:sealed", "friend:state:in-use"), store.Pending, true},
		{"unknown state", append(slices.Clone(base), "friend:state:frozen"), store.Pending, true},
		{"no created", []string{"friend:snapshot", "friend:state:sealed"}, store.Pending, true},
		{"bad created", []string{"friend:snapshot", "friend:state:sealed", "friend:created:yesterday"}, store.Pending, true},
		{"bad term", append(slices.Clone(base), "friend:state:sealed", "friend:cache:a&2fb"), store.Pending, true},
		{"two machines", append(slices.Clone(base), "friend:state:sealed", "friend:machine:a", "friend:machine:b"), store.Pending, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tagScheme{ns: "friend"}.parse(tt.tags)
			if p.state != tt.state || (len(p.problems) > 0) != tt.bad {
				t.Errorf("parse(%q) = state %s, problems %q", tt.tags, p.state, p.problems)
			}
		})
	}
}
