package lvm

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/schema"
)

func TestNameRules(t *testing.T) {
	good := []string{"vg0", "banana", "friend-pool", "a.b_c+d", strings.Repeat("x", 127)}
	for _, n := range good {
		if err := checkLVName(n); err != nil {
			t.Errorf("checkLVName(%q): %v", n, err)
		}
	}
	bad := map[string]string{
		"":                       "empty",
		"-x":                     "start with '-'",
		".":                      "reserved",
		"a/b":                    "letters, digits",
		"ünï":                    "letters, digits",
		strings.Repeat("x", 128): "longer than",
		"snapshot1":              "reserved by LVM",
		"pool_tmeta":             "_tmeta",
		"x_rimage_1":             "_rimage",
	}
	for n, want := range bad {
		if err := checkLVName(n); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("checkLVName(%q) = %v, want %q", n, err, want)
		}
	}
	if err := checkVGName("snapshot"); err != nil {
		t.Errorf("VG names may start with snapshot: %v", err)
	}
}

func TestSplitPoolID(t *testing.T) {
	if vg, pool, err := splitPoolID("banana/friend-pool"); err != nil || vg != "banana" || pool != "friend-pool" {
		t.Errorf("= %q %q %v", vg, pool, err)
	}
	for _, bad := range []string{"pool", "a/b/c", "/pool", "vg/"} {
		if _, _, err := splitPoolID(bad); err == nil {
			t.Errorf("splitPoolID(%q) accepted", bad)
		}
	}
}

func check(v schema.Validator, val cty.Value) error { return v.Check(val) }

func TestValidators(t *testing.T) {
	tests := []struct {
		name string
		v    schema.Validator
		val  cty.Value
		ok   bool
	}{
		{"user tag", tagsValidator, strSet("team:ci", "owner=me"), true},
		{"reserved tag", tagsValidator, strSet("rigplan:managed"), false},
		{"tag with space", tagsValidator, strSet("a b"), false},
		{"long tag", tagsValidator, strSet(strings.Repeat("t", 129)), false},
		{"mode", modeValidator, cty.StringVal("0755"), true},
		{"mode 3 digits", modeValidator, cty.StringVal("755"), true},
		{"mode not octal", modeValidator, cty.StringVal("0789"), false},
		{"mode symbolic", modeValidator, cty.StringVal("u+rwx"), false},
		{"uid", idValidator, cty.NumberIntVal(570098664), true},
		{"negative uid", idValidator, cty.NumberIntVal(-1), false},
		{"fractional uid", idValidator, cty.NumberFloatVal(1.5), false},
		{"extent 4M", extentSizeValidator, cty.StringVal("4M"), true},
		{"extent 1K", extentSizeValidator, cty.StringVal("1K"), true},
		{"extent 384K", extentSizeValidator, cty.StringVal("384K"), true},
		{"extent 3K", extentSizeValidator, cty.StringVal("3K"), false}, // vgcreate: "must be a multiple of 128.00 KiB when not a power of 2"
		{"extent 512B", extentSizeValidator, cty.StringVal("512B"), false},
		{"chunk 192K", chunkSizeValidator, cty.StringVal("192K"), true},
		{"chunk 96K", chunkSizeValidator, cty.StringVal("96K"), false}, // lvcreate: "must be a multiple of 64.00 KiB"
		{"chunk 32K", chunkSizeValidator, cty.StringVal("32K"), false},
		{"chunk 2G", chunkSizeValidator, cty.StringVal("2G"), false},
		{"metadata 16G", metadataSizeValidator, cty.StringVal("16G"), false}, // lvcreate would reduce it to <15.88 GiB
		{"metadata 1M", metadataSizeValidator, cty.StringVal("1M"), false},
		{"metadata 1G", metadataSizeValidator, cty.StringVal("1G"), true},
		{"discards", schema.OneOf("ignore", "nopassdown", "passdown"), cty.StringVal("passdown"), true},
		{"discards typo", schema.OneOf("ignore", "nopassdown", "passdown"), cty.StringVal("pass"), false},
		{"pool id", poolIDValidator, cty.StringVal("vg0/cache"), true},
	}
	for _, tt := range tests {
		if err := check(tt.v, tt.val); (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestValidateVolumeMinimumSizes(t *testing.T) {
	p := New(nil, Options{})
	mk := func(fs, size string) cty.Value {
		return configOf(t, p, typeVolume, map[string]cty.Value{"filesystem": cty.StringVal(fs), "size": cty.StringVal(size)})
	}
	if probs := validateVolume(mk("xfs", "296M")); len(probs) != 1 || !strings.Contains(probs[0].Detail, "300M") {
		t.Errorf("xfs 296M: %v", probs)
	}
	if probs := validateVolume(mk("btrfs", "200M")); len(probs) != 1 {
		t.Errorf("btrfs 200M: %v", probs)
	}
	if probs := validateVolume(mk("xfs", "300M")); len(probs) != 0 {
		t.Errorf("xfs 300M: %v", probs)
	}
	if probs := validateVolume(mk("ext4", "4M")); len(probs) != 0 {
		t.Errorf("ext4 4M: %v", probs)
	}
}

func TestValidateVGDevices(t *testing.T) {
	p := New(nil, Options{})
	if probs := validateVG(configOf(t, p, typeVG, map[string]cty.Value{"devices": cty.SetValEmpty(cty.String)})); len(probs) != 1 {
		t.Errorf("no devices: %v", probs)
	}
	if probs := validateVG(configOf(t, p, typeVG, map[string]cty.Value{"devices": strSet("sdb", "/dev/../dev/sdc")})); len(probs) != 2 {
		t.Errorf("relative and unclean paths: %v", probs)
	}
}

func TestSchemasDescribeEveryAttribute(t *testing.T) {
	p := New(nil, Options{})
	for _, r := range p.Schemas() {
		if r.Description == "" || r.Provider != "lvm" || !r.HoldsData {
			t.Errorf("%s: description %q, provider %q, HoldsData %v", r.Type, r.Description, r.Provider, r.HoldsData)
		}
		for _, a := range r.Attributes {
			if len(a.Description) < 20 {
				t.Errorf("%s.%s has no real description: %q", r.Type, a.Name, a.Description)
			}
		}
		_ = r.Spec() // must not panic
	}
}
