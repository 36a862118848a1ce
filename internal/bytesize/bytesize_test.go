package bytesize

import (
	"errors"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"30G", 30 * GiB},
		{"30g", 30 * GiB},
		{"512MiB", 512 * MiB},
		{"512mib", 512 * MiB},
		{"1.5T", TiB + TiB/2},
		{"4K", 4096},
		{"2P", 2 * PiB},
		{"100GB", 100_000_000_000},
		{"1KB", 1000},
		{"3TB", 3_000_000_000_000},
		{"1PB", 1_000_000_000_000_000},
		{"4194304B", 4194304},
		{"0B", 0},
		{" 16 M ", 16 * MiB},
		{"0.1G", 107374183}, // 107374182.4 rounded up
		{"1.M", MiB},
		{".5G", GiB / 2},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		in, wantErr string
	}{
		{"30", "30G"},         // bare number: suggests a unit
		{"", "empty size"},    //
		{"G", "not a size"},   //
		{"-1G", "not a size"}, // negative
		{"1.2.3G", "not a size"},
		{"10X", "unknown unit"},
		{"10 gigs", "unknown unit"},
		{"10Gb", ""}, // accepted as decimal (case-insensitive), checked below
		{"9999999P", "too large"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("Parse(%q): %v", tt.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Parse(%q) error = %v, want it to mention %q", tt.in, err, tt.wantErr)
		}
	}
	if _, err := Parse("30"); !errors.Is(err, ErrNoUnit) {
		t.Errorf("Parse(\"30\") error %v does not wrap ErrNoUnit", err)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0B"},
		{512, "512B"},
		{1536, "1536B"},
		{3072, "3K"},
		{4 * MiB, "4M"},
		{1004 * MiB, "1004M"},
		{30 * GiB, "30G"},
		{TiB + TiB/2, "1536G"},
		{2 * PiB, "2P"},
	}
	for _, tt := range tests {
		if got := Format(tt.in); got != tt.want {
			t.Errorf("Format(%d) = %q, want %q", tt.in, got, tt.want)
		}
		back, err := Parse(tt.want)
		if err != nil || back != tt.in {
			t.Errorf("Parse(Format(%d)) = %d, %v", tt.in, back, err)
		}
	}
}

func TestHuman(t *testing.T) {
	if got := Human(GiB + GiB/2); got != "1.50 GiB" {
		t.Errorf("Human = %q", got)
	}
	if got := Human(100); got != "100 B" {
		t.Errorf("Human = %q", got)
	}
}

func TestValidator(t *testing.T) {
	v := Validator(300 * MiB)
	if err := v.Check(cty.StringVal("1G")); err != nil {
		t.Errorf("1G: %v", err)
	}
	if err := v.Check(cty.StringVal("100M")); err == nil || !strings.Contains(err.Error(), "300M") {
		t.Errorf("100M: %v, want a message naming the 300M minimum", err)
	}
	if err := v.Check(cty.StringVal("30")); err == nil || !strings.Contains(err.Error(), "30G") {
		t.Errorf("bare number: %v", err)
	}
	if err := Validator(0).Check(cty.StringVal("0G")); err == nil {
		t.Error("0G accepted as a positive size")
	}
}

func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{"30G", "1.5T", "100GB", "7B", "0.1G"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("Parse(%q) = %d < 0", s, n)
		}
		back, err := Parse(Format(n))
		if err != nil || back != n {
			t.Fatalf("Parse(Format(%d)) = %d, %v", n, back, err)
		}
	})
}
