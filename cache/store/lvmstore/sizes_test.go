package lvmstore

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/store"
)

// A size tag the store would not write makes the size unknown, and
// leaves the snapshot as good as it was: it is a measurement.
func TestParseSizeTags(t *testing.T) {
	sealed := []string{"friend:snapshot", "friend:created:2024-05-01T12:00:00Z", "friend:state:sealed"}
	tests := []struct {
		name         string
		tags         []string
		mapped, base int64
	}{
		{"none", nil, -1, -1},
		{"both", []string{"friend:mapped:1048576", "friend:base:0"}, 1 << 20, 0},
		{"another namespace's", []string{"rigplan:mapped:5"}, -1, -1},
		{"two", []string{"friend:mapped:1", "friend:mapped:2"}, -1, -1},
		{"negative", []string{"friend:mapped:-1"}, -1, -1},
		{"leading zero", []string{"friend:mapped:01"}, -1, -1},
		{"plus", []string{"friend:base:+1"}, -1, -1},
		{"not a number", []string{"friend:base:1MiB"}, -1, -1},
		{"empty", []string{"friend:mapped:"}, -1, -1},
		{"overflow", []string{"friend:mapped:99999999999999999999"}, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tagScheme{ns: "friend"}.parse(append(append([]string{}, sealed...), tt.tags...))
			if p.mapped != tt.mapped || p.base != tt.base {
				t.Errorf("parse(%q): mapped %d, base %d; want %d, %d", tt.tags, p.mapped, p.base, tt.mapped, tt.base)
			}
			if p.state != store.Sealed || len(p.problems) > 0 {
				t.Errorf("parse(%q): state %s, problems %q; want sealed without problems", tt.tags, p.state, p.problems)
			}
		})
	}
	ts := tagScheme{ns: "friend"}
	if p := ts.parse([]string{ts.bytesTag(kindMapped, 123), ts.bytesTag(kindBase, 45)}); p.mapped != 123 || p.base != 45 {
		t.Errorf("bytesTag does not read back: %+v", p)
	}
}

// sizeReport is a volume group's report for the size rules: the default
// volume (2 GiB, active, 3.00% mapped), the pool, and rows.
func sizeReport(rows ...string) string {
	lv := func(name, attr, origin, tags, data string) string {
		return `{"lv_name":"` + name + `", "vg_name":"vg0", "lv_attr":"` + attr + `", "lv_size":"2147483648", "pool_lv":"pool", "origin":"` + origin +
			`", "lv_tags":"` + tags + `", "lv_time":"1", "data_percent":"` + data + `", "metadata_percent":""}`
	}
	all := []string{
		lv("default", "Vwi-a-tz--", "", "", "3.00"),
		`{"lv_name":"pool", "vg_name":"vg0", "lv_attr":"twi-aotz--", "lv_size":"1073741824", "pool_lv":"", "origin":"", "lv_tags":"", "lv_time":"1", "data_percent":"20.00", "metadata_percent":"10.00"}`,
	}
	for _, r := range rows {
		// name attr origin tags data, separated by |
		f := strings.Split(r, "|")
		all = append(all, lv(f[0], f[1], f[2], "friend:snapshot,friend:created:2024-05-01T12:00:00Z,"+f[3], f[4]))
	}
	return `{"report":[{"lv":[` + strings.Join(all, ",") + `]}]}`
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// pct is p% of the 2 GiB volume, as the store rounds it.
func pct(p float64) int64 {
	x := row{Size: 2 << 30, DataPercent: p}
	n, _ := x.liveMapped()
	return n
}

// Size is what a snapshot maps beyond its origin: live data use for an
// active snapshot, the NS:mapped tag for an inactive one; its NS:base
// tag, else what its origin maps now; 0 when a figure is unknown or the
// difference is negative.
func TestSizeRules(t *testing.T) {
	f := &fake{stdout: sizeReport(
		"sealed|Vwi---tz-k|default|friend:state:sealed,friend:mapped:"+itoa(pct(6))+"|",
		"untagged|Vwi---tz-k|default|friend:state:sealed|",
		"in-use|Vwi-aotz-k|sealed|friend:state:in-use|7.50",
		"active-sealed|Vwi-a-tz-k|default|friend:state:sealed,friend:mapped:1|4.00",
		"orphan|Vwi-aotz-k||friend:state:in-use|9.00",
		"orphan-based|Vwi-aotz-k||friend:state:in-use,friend:base:"+itoa(pct(6))+"|9.00",
		"based|Vwi-aotz-k|default|friend:state:in-use,friend:base:"+itoa(pct(2))+"|4.00",
		"of-untagged|Vwi-aotz-k|untagged|friend:state:in-use|9.00",
		"shrunk|Vwi-aotz-k|default|friend:state:in-use|1.00",
		"inactive-in-use|Vwi---tz-k|default|friend:state:in-use|",
	)}
	s := fixtureStore(t, f)
	snaps, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		"default":         0,
		"sealed":          pct(6) - pct(3),   // its tag, less the default volume's live use
		"untagged":        0,                 // sealed before this release: unknown
		"in-use":          pct(7.5) - pct(6), // live, less its sealed origin's tag
		"active-sealed":   pct(4) - pct(3),   // live use wins over a tag
		"orphan":          0,                 // origin removed, no base: unknown
		"orphan-based":    pct(9) - pct(6),   // origin removed: its base
		"based":           pct(4) - pct(2),   // the base, not the origin's use now
		"of-untagged":     0,                 // the origin's figure is unknown
		"shrunk":          0,                 // discards: clamped
		"inactive-in-use": 0,                 // no figure of its own
	}
	if len(snaps) != len(want) {
		t.Fatalf("List gave %d snapshots, want %d: %+v", len(snaps), len(want), snaps)
	}
	for _, sn := range snaps {
		if w, ok := want[sn.Name]; !ok || sn.Size != w {
			t.Errorf("%s: Size %d, want %d", sn.Name, sn.Size, w)
		}
	}
	if d := s.Describe(); d != "thin pool vg0/pool" {
		t.Errorf("Describe after a List = %q, want the pool's name as a FullError gives it", d)
	}

	// Create records what the origin mapped at the List, for the
	// origins that never change: the default volume and sealed
	// snapshots.
	for origin, want := range map[string]string{
		"default":       "friend:base:" + itoa(pct(3)),
		"sealed":        "friend:base:" + itoa(pct(6)),
		"active-sealed": "friend:base:" + itoa(pct(4)),
		"untagged":      "",
		"in-use":        "",
	} {
		f.cmds = nil
		if _, err := s.Create(context.Background(), origin, "new", "m", nil); err != nil {
			t.Fatal(err)
		}
		got := ""
		if i := strings.Index(f.cmds[0], "friend:base:"); i >= 0 {
			got = strings.Fields(f.cmds[0][i:])[0]
		}
		if got != want {
			t.Errorf("Create from %s: base tag %q, want %q (%s)", origin, got, want, f.cmds[0])
		}
	}
}

func TestDescribeBeforeAReport(t *testing.T) {
	if d := fixtureStore(t, nil).Describe(); d != "thin pool of vg0/default" {
		t.Errorf("Describe before any report = %q, want the default volume's pool", d)
	}
}
