package retention

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/store"
)

var now = time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC)

// snap is a snapshot created hoursAgo before now.
func snap(name string, st store.State, hoursAgo int, annotations ...string) store.Snapshot {
	return store.Snapshot{Name: name, State: st, Created: now.Add(-time.Duration(hoursAgo) * time.Hour), Annotations: annotations}
}

func sealed(name string, hoursAgo int, annotations ...string) store.Snapshot {
	return snap(name, store.Sealed, hoursAgo, annotations...)
}

func sized(s store.Snapshot, size int64) store.Snapshot { s.Size = size; return s }

var def = store.Snapshot{Name: "default", State: store.Sealed, Default: true, Created: now.Add(-10000 * time.Hour)}

// names renders deletions as name:rule, in order.
func names(ds []Deletion) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.Snapshot.Name+":"+string(d.Rule))
		if d.Reason == "" {
			out = append(out, "NO REASON")
		}
	}
	return out
}

func TestPlan(t *testing.T) {
	week := 7 * 24 * time.Hour
	tests := []struct {
		name   string
		policy Policy
		snaps  []store.Snapshot
		held   Held
		want   []string
	}{
		{
			"no rules: only dead pending snapshots go",
			Policy{},
			[]store.Snapshot{def, sealed("a", 5000), snap("p", store.Pending, 1), snap("live", store.Pending, 0)},
			Held{"live": true},
			[]string{"p:pending"},
		},
		{
			"max age: sealed and older only; never default, in-use or held",
			Policy{MaxAge: week},
			[]store.Snapshot{def, sealed("old", 200), sealed("new", 10), snap("using", store.InUse, 300),
				sealed("held-old", 300), sealed("edge", 168)},
			Held{"held-old": true},
			[]string{"old:max-age"},
		},
		{
			"keep per set: newest N of each annotation set, order and repeats ignored",
			Policy{KeepPerSet: 2},
			[]store.Snapshot{def,
				sealed("m1", 30, "linux", "main"), sealed("m2", 20, "main", "linux"), sealed("m3", 10, "linux", "main", "linux"),
				sealed("f1", 25, "linux", "feature/x"), sealed("f2", 5, "linux", "feature/x"),
				sealed("n1", 40), sealed("n2", 30), sealed("n3", 20), sealed("n4", 10),
			},
			nil,
			[]string{"n1:keep-per-set", "m1:keep-per-set", "n2:keep-per-set"},
		},
		{
			"keep per set: in-use and pending do not count; a held sealed one keeps its place",
			Policy{KeepPerSet: 1},
			[]store.Snapshot{def, sealed("s1", 30, "x"), sealed("s2", 20, "x"), snap("u", store.InUse, 1, "x"), snap("p", store.Pending, 0, "x")},
			Held{"s2": true, "p": true},
			[]string{"s1:keep-per-set"},
		},
		{
			"keep per set: the held one beyond N stays",
			Policy{KeepPerSet: 1},
			[]store.Snapshot{def, sealed("s1", 30, "x"), sealed("s2", 20, "x")},
			Held{"s1": true},
			nil,
		},
		{
			"a snapshot both too old and surplus is listed once, for age",
			Policy{KeepPerSet: 1, MaxAge: week},
			[]store.Snapshot{def, sealed("a", 500, "x"), sealed("b", 400, "x"), sealed("c", 1, "x")},
			nil,
			[]string{"a:max-age", "b:max-age"},
		},
		{
			"same creation time: the name that sorts last is newer (as the matcher has it)",
			Policy{KeepPerSet: 1},
			[]store.Snapshot{def, sealed("snap-2", 5, "x"), sealed("snap-1", 5, "x")},
			nil,
			[]string{"snap-1:keep-per-set"},
		},
		{
			"nothing but the default",
			Policy{KeepPerSet: 1, MaxAge: time.Hour},
			[]store.Snapshot{def},
			nil,
			nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := names(Plan(tt.policy, tt.snaps, tt.held, now))
			if len(tt.want) == 0 && len(got) == 0 {
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Plan = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlanReasons(t *testing.T) {
	ds := Plan(Policy{KeepPerSet: 1, MaxAge: 24 * time.Hour},
		[]store.Snapshot{sealed("old", 30, "a"), sealed("b1", 2, "linux", "main"), sealed("b2", 1, "main", "linux"), snap("p", store.Pending, 1)},
		nil, now)
	want := map[string]string{
		"old": "created 2024-05-09T06:00:00Z, 30h0m0s ago, over the maximum age of 24h0m0s",
		"b1":  "1 newer sealed snapshots have the same annotations {linux main} (keep per set: 1)",
		"p":   "pending, and no request of this agent is making it",
	}
	if len(ds) != len(want) {
		t.Fatalf("Plan = %q", names(ds))
	}
	for _, d := range ds {
		if !strings.Contains(d.Reason, want[d.Snapshot.Name]) {
			t.Errorf("%s: reason %q, want it to say %q", d.Snapshot.Name, d.Reason, want[d.Snapshot.Name])
		}
	}
}

func TestWatermarks(t *testing.T) {
	p := Policy{DataHigh: 90, DataLow: 80, MetadataHigh: 75, MetadataLow: 60}
	tests := []struct {
		u         store.Usage
		high, low bool
	}{
		{store.Usage{DataPercent: 50, MetadataPercent: 10}, false, false},
		{store.Usage{DataPercent: 85, MetadataPercent: 10}, false, true},
		{store.Usage{DataPercent: 90, MetadataPercent: 10}, false, true}, // at the mark is not over it
		{store.Usage{DataPercent: 90.1, MetadataPercent: 10}, true, true},
		{store.Usage{DataPercent: 10, MetadataPercent: 76}, true, true},
		{store.Usage{DataPercent: 10, MetadataPercent: 61}, false, true},
	}
	for _, tt := range tests {
		if h, l := p.OverHigh(tt.u), p.OverLow(tt.u); h != tt.high || l != tt.low {
			t.Errorf("%+v: OverHigh %v OverLow %v, want %v %v", tt.u, h, l, tt.high, tt.low)
		}
	}
	off := Policy{}
	if off.OverHigh(store.Usage{DataPercent: 100, MetadataPercent: 100}) || off.OverLow(store.Usage{DataPercent: 100}) {
		t.Error("a policy without watermarks reports usage over them")
	}
}

func TestNextForSpace(t *testing.T) {
	p := Policy{DataHigh: 90, DataLow: 80}
	gib := int64(1 << 30)
	over := store.Usage{DataPercent: 95, DataBytes: 100 * gib}
	snaps := []store.Snapshot{def, sealed("s-old", 50), sealed("s-mid", 40), sealed("s-new", 1),
		snap("u", store.InUse, 100), snap("dead", store.Pending, 2), snap("making", store.Pending, 0)}
	held := Held{"making": true}
	unfinished := map[string]bool{"gone": true}
	tests := []struct {
		name   string
		policy Policy
		snaps  []store.Snapshot
		u      store.Usage
		want   []string
	}{
		{"under the low watermark: nothing", p, snaps, store.Usage{DataPercent: 79}, nil},
		{"caches in use hold the excess: the sealed ones stay", p,
			[]store.Snapshot{def, sized(sealed("a", 30), 5*gib), sized(sealed("b", 20), 5*gib), sized(snap("u", store.InUse, 1), 20*gib)},
			over, nil},
		{"caches in use hold part of it: the sealed ones go for the rest", p,
			[]store.Snapshot{def, sized(sealed("a", 30), 5*gib), sized(sealed("b", 20), 5*gib), sized(snap("u", store.InUse, 1), 10*gib)},
			over, []string{"a:space"}},
		{"unfinished ones go first, before any sealed one", p,
			[]store.Snapshot{def, sized(sealed("old", 300), 5*gib), sized(snap("gone", store.InUse, 1), 10*gib), sealed("later", 200)},
			over, []string{"gone:space", "old:space"}},
		{"in use and not unfinished: never", p,
			[]store.Snapshot{def, sized(snap("u", store.InUse, 1), 1*gib), sized(snap("gone", store.InUse, 2), 1*gib)},
			over, []string{"gone:space"}},
		{"sizes unknown: one at a time, dead pending first", p, snaps, over, []string{"dead:space"}},
		{"then the oldest sealed", p, snaps[:5], over, []string{"s-old:space"}},
		{"known sizes: as many as the projection needs", p,
			[]store.Snapshot{def, sized(sealed("a", 30), 5*gib), sized(sealed("b", 20), 5*gib), sized(sealed("c", 10), 5*gib), sized(sealed("d", 5), 5*gib)},
			over, []string{"a:space", "b:space", "c:space"}},
		{"sizes that are only lower bounds: one at a time", p,
			[]store.Snapshot{def, sized(sealed("a", 30), 5*gib), sized(sealed("b", 20), 5*gib), sized(sealed("c", 10), 5*gib)},
			store.Usage{DataPercent: 95, DataBytes: 100 * gib, SizesLowerBound: true}, []string{"a:space"}},
		{"known sizes until an unknown one", p,
			[]store.Snapshot{def, sized(sealed("a", 30), 5*gib), sealed("b", 20), sized(sealed("c", 10), 5*gib)},
			over, []string{"a:space", "b:space"}},
		{"metadata over: no projection, one at a time", Policy{DataHigh: 90, DataLow: 80, MetadataHigh: 80, MetadataLow: 70},
			[]store.Snapshot{def, sized(sealed("a", 30), 50*gib), sized(sealed("b", 20), 5*gib)},
			store.Usage{DataPercent: 95, MetadataPercent: 85, DataBytes: 100 * gib}, []string{"a:space"}},
		{"nothing deletable left", p, []store.Snapshot{def, snap("u", store.InUse, 1), snap("making", store.Pending, 0)}, over, nil},
		{"watermarks off", Policy{}, snaps, store.Usage{DataPercent: 100}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextForSpace(tt.policy, tt.snaps, held, Space{Usage: tt.u, Unfinished: unfinished})
			if g := names(got); !(len(g) == 0 && len(tt.want) == 0) && !slices.Equal(g, tt.want) {
				t.Errorf("NextForSpace = %q, want %q", g, tt.want)
			}
			for _, d := range got {
				if !strings.Contains(d.Reason, "too full") || !strings.Contains(d.Reason, "95.0%") {
					t.Errorf("reason %q does not say how full the store is", d.Reason)
				}
			}
		})
	}
}

// The agent's loop, as the package doc shows it, against a simulated pool
// where each deletion frees a known share the store does not report: it
// ends under the low watermark, deleting oldest first, and never touches
// what it must not.
func TestSpaceLoop(t *testing.T) {
	p := Policy{DataHigh: 90, DataLow: 70}
	var snaps []store.Snapshot
	frees := map[string]float64{}
	for i := range 10 {
		n := fmt.Sprintf("s%d", i)
		snaps = append(snaps, sealed(n, 100-i))
		frees[n] = 4
	}
	snaps = append(snaps, def, snap("u", store.InUse, 1000))
	u := store.Usage{DataPercent: 93}
	var deleted []string
	if !p.OverHigh(u) {
		t.Fatal("the simulation starts under the high watermark")
	}
	for rounds := 0; ; rounds++ {
		if rounds > 20 {
			t.Fatal("the loop does not end")
		}
		batch := NextForSpace(p, snaps, nil, Space{Usage: u})
		if len(batch) == 0 {
			break
		}
		for _, d := range batch {
			deleted = append(deleted, d.Snapshot.Name)
			u.DataPercent -= frees[d.Snapshot.Name]
			snaps = slices.DeleteFunc(snaps, func(s store.Snapshot) bool { return s.Name == d.Snapshot.Name })
		}
	}
	if want := []string{"s0", "s1", "s2", "s3", "s4", "s5"}; !slices.Equal(deleted, want) || u.DataPercent > 70 {
		t.Errorf("deleted %q, ending at %.0f%%; want %q, ending under 70%%", deleted, u.DataPercent, want)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		p    Policy
		want string // "" for valid
	}{
		{Policy{}, ""},
		{Policy{KeepPerSet: 3, MaxAge: time.Hour, DataHigh: 90, DataLow: 80, MetadataHigh: 80, MetadataLow: 70}, ""},
		{Policy{KeepPerSet: -1}, "keep per set"},
		{Policy{MaxAge: -time.Second}, "max age"},
		{Policy{DataHigh: 80, DataLow: 90}, "data low watermark"},
		{Policy{DataHigh: 80, DataLow: 80}, "data low watermark"},
		{Policy{DataHigh: 101, DataLow: 10}, "data high watermark"},
		{Policy{DataLow: 10}, "data high watermark"},
		{Policy{MetadataHigh: 50, MetadataLow: -1}, "metadata low watermark"},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.p, err, tt.want)
		}
	}
}
