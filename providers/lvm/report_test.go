package lvm

import (
	"strings"
	"testing"
)

func TestParseCapturedReports(t *testing.T) {
	lvs, err := parseLVs(readTestdata(t, "lvs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(lvs) != 7 {
		t.Fatalf("got %d LVs, want 7 (lvs without -a hides pool internals)", len(lvs))
	}
	byID := map[string]lvRow{}
	for _, r := range lvs {
		byID[r.ID()] = r
	}
	pool := byID["vg0/cache"]
	if !pool.Attr.IsThinPool() || pool.Size != 1052770304 || pool.MetadataSize != 4194304 || pool.ChunkSize != 65536 ||
		pool.WhenFull != "error" || pool.Discards != "passdown" || pool.Major != 254 || pool.Minor != 2 {
		t.Errorf("pool row = %+v", pool)
	}
	def := byID["vg0/default"]
	if !def.Attr.IsThinVolume() || !def.Attr.Open || def.Pool != "cache" || def.Size != 300<<20 || def.Minor != 4 {
		t.Errorf("default row = %+v", def)
	}
	if got := strings.Join(def.Tags, " "); got != "rigplan:addr:volume.default rigplan:managed rigplan:mkfs=-m&0Areflink=1 rigplan:mode=0750 rigplan:owner=1000:1000" {
		t.Errorf("default tags = %q", got)
	}
	snap := byID["vg0/snap"]
	if !snap.Attr.IsThinVolume() || snap.Attr.Active() || !snap.Attr.SkipActivation || snap.Origin != "default" || snap.Major != -1 {
		t.Errorf("snap row = %+v", snap)
	}
	if sc := byID["vg0/scratch"]; sc.Attr.Type != '-' || sc.Segtype != "linear" || len(sc.Tags) != 0 {
		t.Errorf("scratch row = %+v", sc)
	}

	vgs, err := parseVGs(readTestdata(t, "vgs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(vgs) != 2 || vgs[1].Name != "vg0" || vgs[1].ExtentSize != 4<<20 || vgs[1].PVCount != 2 || vgs[1].LVCount != 6 ||
		strings.Join(vgs[1].Tags, ",") != "rigplan:addr:volume_group.main,rigplan:managed,team:ci" {
		t.Errorf("vgs = %+v", vgs)
	}

	pvs, err := parsePVs(readTestdata(t, "pvs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pvs) != 4 || pvs[1].Name != "/dev/ubdb" || pvs[1].Major != 98 || pvs[1].Minor != 16 || pvs[1].PEAlloc != 1 || pvs[3].VG != "" {
		t.Errorf("pvs = %+v", pvs)
	}
}

func TestParseEmptyReports(t *testing.T) {
	lvs, err1 := parseLVs(readTestdata(t, "empty-lvs.json"))
	vgs, err2 := parseVGs(readTestdata(t, "empty-vgs.json"))
	pvs, err3 := parsePVs(readTestdata(t, "empty-pvs.json"))
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if len(lvs)+len(vgs)+len(pvs) != 0 {
		t.Errorf("empty host parsed as %v %v %v", lvs, vgs, pvs)
	}
}

func TestParseReportErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not json":      `  Volume group "x" not found`,
		"missing field": `{"report":[{"vg":[{"vg_name":"x"}]}]}`,
		"not a number":  `{"report":[{"vg":[{"vg_name":"x","vg_uuid":"u","vg_size":"12G","vg_free":"0","vg_extent_size":"4","vg_tags":"","lv_count":"0","pv_count":"1","vg_attr":"wz--n-"}]}]}`,
	} {
		if _, err := parseVGs([]byte(in)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
	bad := strings.Replace(string(readTestdata(t, "lvs.json")), `"twi-aotz--"`, `"twi-aotz-?"`, 1)
	if _, err := parseLVs([]byte(bad)); err == nil || !strings.Contains(err.Error(), "skip activation") {
		t.Errorf("unknown lv_attr character: %v", err)
	}
}

func TestLVAttrTable(t *testing.T) {
	tests := []struct {
		in                           string
		pool, thin, active, open, sk bool
		describe                     string
	}{
		{"twi-aotz--", true, false, true, true, false, "thin pool"},
		{"Vwi-a-tz--", false, true, true, false, false, "thin volume"},
		{"Vwi---tz-k", false, true, false, false, true, "thin volume"},
		{"-wi-a-----", false, false, true, false, false, "plain"},
		{"ewi-------", false, false, false, false, false, "raid or pool metadata or pool metadata spare"},
	}
	for _, tt := range tests {
		a, err := parseLVAttr(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if a.IsThinPool() != tt.pool || a.IsThinVolume() != tt.thin || a.Active() != tt.active || a.Open != tt.open ||
			a.SkipActivation != tt.sk || a.Describe() != tt.describe || a.String() != tt.in {
			t.Errorf("%s decoded as %+v", tt.in, a)
		}
	}
	for _, bad := range []string{"", "twi-aotz-", "twi-aotz---", "zwi-aotz--"} {
		if _, err := parseLVAttr(bad); err == nil {
			t.Errorf("parseLVAttr(%q) accepted", bad)
		}
	}
}

// The captured output is only evidence for the commands refresh runs if
// capture.sh asks for the same fields.
func TestCaptureScriptUsesReportFields(t *testing.T) {
	script := string(readTestdata(t, "capture.sh"))
	for _, c := range []struct {
		name   string
		fields []string
	}{{"lvs", lvFields}, {"vgs", vgFields}, {"pvs", pvFields}, {"vgs", vgPVFields}} {
		want := reportCmd(c.name, c.fields).String()
		if !strings.Contains(script, want) {
			t.Errorf("capture.sh does not run %q", want)
		}
	}
}
