package lvmreport

import (
	"slices"
	"strings"
	"testing"
)

func TestRowsAcrossParts(t *testing.T) {
	out := []byte(`{"report":[{"lv":[{"lv_name":"a"}]},{"lv":[{"lv_name":"b"}],"vg":[{"vg_name":"x"}]}]}`)
	rows, err := Rows(out, "lv")
	if err != nil || len(rows) != 2 || rows[0]["lv_name"] != "a" || rows[1]["lv_name"] != "b" {
		t.Fatalf("Rows = %v, %v", rows, err)
	}
	if rows, _ := Rows(out, "pv"); len(rows) != 0 {
		t.Errorf("absent section: %v", rows)
	}
	if _, err := Rows([]byte("  WARNING: not json"), "lv"); err == nil || !strings.Contains(err.Error(), "lv report") {
		t.Errorf("garbage: %v", err)
	}
}

func TestFields(t *testing.T) {
	f := &Fields{Row: Row{"size": "4194304", "empty": "", "tags": "a,b=c", "pct": "12.50"}}
	if f.Int("size") != 4194304 || f.Int("empty") != 0 || f.Percent("pct") != 12.5 || f.Percent("empty") != -1 {
		t.Error("conversions wrong")
	}
	if got := f.List("tags"); !slices.Equal(got, []string{"a", "b=c"}) || f.List("empty") != nil {
		t.Errorf("List = %q", got)
	}
	if f.Err != nil {
		t.Fatal(f.Err)
	}
	for _, bad := range []func(*Fields){
		func(f *Fields) { f.Str("nope") },
		func(f *Fields) { f.Int("tags") },
		func(f *Fields) { f.Percent("size") },
	} {
		f := &Fields{Row: Row{"size": "4194304", "tags": "a"}}
		bad(f)
		if f.Err == nil {
			t.Error("bad field accepted")
		}
	}
	// The first error is kept.
	f = &Fields{Row: Row{}}
	f.Str("first")
	f.Str("second")
	if f.Err == nil || !strings.Contains(f.Err.Error(), "first") {
		t.Errorf("Err = %v, want the first field's", f.Err)
	}
}
