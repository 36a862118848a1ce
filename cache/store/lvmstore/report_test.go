package lvmstore

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/lvmtag"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// fixtureStore is a store over the captured fixture's volume group.
func fixtureStore(t *testing.T, run sysexec.Runner) *Store {
	t.Helper()
	s, err := New(run, Config{Default: "vg0/default", Namespace: "friend"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readFixture(t *testing.T) []row {
	t.Helper()
	b, err := os.ReadFile("testdata/lvs.json")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := parseReport(b)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestListCaptured(t *testing.T) {
	s := fixtureStore(t, nil)
	snaps, err := s.snapshots(readFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("0123456789abcdef", 19)[:300]
	hashed := "0123456789abcdef0123456789abcd&#8894DA359B7D6F4051F80A4FADC90DAAB306A01224D4D03974A55BD9B9C25C74"
	if term(long) != hashed {
		t.Fatalf("term(long) = %q, want the captured %q", term(long), hashed)
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	want := []store.Snapshot{
		{Name: "default", State: store.Sealed, Default: true, Created: time.Unix(1795338955, 0).UTC()},
		{Name: "c-pending", State: store.Pending, Machine: "runner-1", Origin: "default", Created: at("2026-11-22T09:15:56.732844206Z"),
			Annotations: []string{hashed, "linux", "refs/heads/feature/x", "ünïcødé☃"}},
		{Name: "c-in-use", State: store.InUse, Machine: "runner-2", Origin: "default", Created: at("2026-11-22T09:15:57.93346475Z"),
			Annotations: []string{"linux", "main"}},
		{Name: "c-sealed", State: store.Sealed, Machine: "runner-2", Origin: "default", Created: at("2026-11-22T09:16:00.331663022Z"),
			Annotations: []string{"linux", "main"}},
		{Name: "c-saved", State: store.Sealed, Machine: "runner-2", Origin: "c-in-use", Created: at("2026-11-22T09:16:04.194280878Z"),
			Annotations: []string{"C#", "linux", "main"}},
		// Two state tags: not what the store writes, so pending (garbage).
		{Name: "c-bad", State: store.Pending, Machine: "runner-3", Origin: "default", Created: at("2026-11-22T09:16:05.454162606Z"),
			Annotations: []string{"x"}},
	}
	if len(snaps) != len(want) {
		t.Fatalf("List gave %d snapshots, want %d: %+v", len(snaps), len(want), snaps)
	}
	for i := range want {
		g, w := snaps[i], want[i]
		if g.Name != w.Name || g.State != w.State || g.Machine != w.Machine || g.Origin != w.Origin || g.Default != w.Default ||
			!g.Created.Equal(w.Created) || !slices.Equal(g.Annotations, w.Annotations) {
			t.Errorf("snapshot %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	// The same report read by another namespace sees only its own.
	other, err := New(nil, Config{Default: "vg0/default"})
	if err != nil {
		t.Fatal(err)
	}
	o, err := other.snapshots(readFixture(t))
	if err != nil || len(o) != 2 || o[1].Name != "o-1" || o[1].Machine != "runner-9" {
		t.Errorf("namespace rigplan lists %+v, %v; want default and o-1", o, err)
	}
}

func TestUsageCaptured(t *testing.T) {
	u, err := fixtureStore(t, nil).usage(readFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Usage{DataPercent: 1.97, MetadataPercent: 12.30, DataBytes: 4 << 30, SizesLowerBound: true}); u != want {
		t.Errorf("usage = %+v, want %+v", u, want)
	}
}

func TestReportErrors(t *testing.T) {
	pool := `{"lv_name":"pool", "vg_name":"vg0", "lv_attr":"twi-aotz--", "lv_size":"4294967296", "pool_lv":"", "origin":"", "lv_tags":"", "lv_time":"1", "data_percent":"1.97", "metadata_percent":"12.30"}`
	def := `{"lv_name":"default", "vg_name":"vg0", "lv_attr":"Vwi-a-tz--", "lv_size":"1", "pool_lv":"pool", "origin":"", "lv_tags":"", "lv_time":"1", "data_percent":"3.16", "metadata_percent":""}`
	report := func(rows ...string) []byte {
		return []byte(`{"report":[{"lv":[` + strings.Join(rows, ",") + `]}]}`)
	}
	tests := []struct {
		name      string
		out       []byte
		listErr   string // "" for no error
		usageErr  string
		listCount int
	}{
		{"fine", report(pool, def), "", "", 1},
		{"not JSON", []byte("lvs: oops"), "parse LVM lv report", "parse LVM lv report", 0},
		{"missing field", report(strings.Replace(def, `"origin":"", `, "", 1)), "field origin missing", "field origin missing", 0},
		{"bad number", report(strings.Replace(def, `"lv_size":"1"`, `"lv_size":"1B"`, 1)), "not a number", "not a number", 0},
		{"bad percent", report(strings.Replace(pool, `"1.97"`, `"101"`, 1), def), "not a percentage", "not a percentage", 0},
		{"no default volume", report(pool), "default volume vg0/default not found", "default volume vg0/default not found", 0},
		{"default not thin", report(pool, strings.Replace(def, "Vwi-a-tz--", "-wi-a-----", 1)), "not a thin volume", "", 0},
		{"unknown lv_attr on the default", report(pool, strings.Replace(def, "Vwi-a-tz--", "Qwi-a-tz--", 1)), "unknown volume type", "", 0},
		{"unknown lv_attr elsewhere is ignored", report(pool, def, strings.Replace(strings.Replace(def, `"default"`, `"odd"`, 1), "Vwi-a-tz--", "Qwi-a-tz--", 1)), "", "", 1},
		{"inactive pool", report(strings.Replace(strings.Replace(pool, `"1.97"`, `""`, 1), `"12.30"`, `""`, 1), def), "", "not active", 1},
		{"pool missing", report(def), "", "missing from the lvs report", 1},
	}
	s := fixtureStore(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var listErr, usageErr error
			var n int
			rows, err := parseReport(tt.out)
			if err != nil {
				listErr, usageErr = err, err
			} else {
				var snaps []store.Snapshot
				snaps, listErr = s.snapshots(rows)
				n = len(snaps)
				_, usageErr = s.usage(rows)
			}
			check := func(what string, err error, want string) {
				if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
					t.Errorf("%s: error %v, want %q", what, err, want)
				}
			}
			check("list", listErr, tt.listErr)
			check("usage", usageErr, tt.usageErr)
			if n != tt.listCount {
				t.Errorf("list gave %d snapshots, want %d", n, tt.listCount)
			}
		})
	}
}

func TestParseLVAttr(t *testing.T) {
	tests := []struct {
		in                  string
		ok, thin, act, open bool
	}{
		{"Vwi-aotz-k", true, true, true, true},
		{"Vwi---tz-k", true, true, false, false},
		{"twi-aotz--", true, false, true, true},
		{"-wi-a-----", true, false, true, false},
		{"Vwi-a-tz", false, false, false, false},
		{"Zwi-a-tz--", false, false, false, false},
		{"Vwi-Zotz--", false, false, false, false},
		{"Vwi-aZtz--", false, false, false, false},
	}
	for _, tt := range tests {
		a, err := parseLVAttr(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("parseLVAttr(%q) error %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && (a.thinVolume() != tt.thin || a.active() != tt.act || a.open != tt.open) {
			t.Errorf("parseLVAttr(%q) = %+v", tt.in, a)
		}
	}
}

func TestProbeCaptured(t *testing.T) {
	for _, fs := range []string{"xfs", "ext4", "btrfs", "none"} {
		f, err := os.Open("testdata/superblock-" + fs + ".gz")
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		got, err := probe(bytes.NewReader(b))
		want := fs
		if fs == "none" {
			want = ""
		}
		if err != nil || got != want {
			t.Errorf("probe(%s superblock) = %q, %v; want %q", fs, got, err, want)
		}
	}
	if got, err := probe(bytes.NewReader(make([]byte, 100))); err != nil || got != "" {
		t.Errorf("probe of a 100-byte device = %q, %v", got, err)
	}
	if _, err := probe(bytes.NewReader(nil)); err == nil {
		t.Error("probe of an empty device succeeded")
	}
}

// The tags the store writes survive lvmtag's alphabet and length rules.
func TestTagsFitLVM(t *testing.T) {
	ts := tagScheme{ns: strings.Repeat("n", MaxNamespaceLen)}
	long := strings.Repeat("ü/", 200)
	tags, _, err := ts.newTags(store.Pending, time.Now(), strings.Repeat("m", 300), []string{long, "x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		if len(tag) > lvmtag.MaxTagLen {
			t.Errorf("tag %q is %d bytes, over %d", tag, len(tag), lvmtag.MaxTagLen)
		}
		for i := 0; i < len(tag); i++ {
			if !lvmtag.Allowed(tag[i]) {
				t.Errorf("tag %q holds %q, outside LVM's alphabet", tag, tag[i])
			}
		}
	}
}
