package inject

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseStat(t *testing.T) {
	// Captured from /proc/PID/stat of `sleep 1000` (fields after 22
	// shortened), the same with a hostile command name, and a zombie.
	line := "28454 (sleep) S 28451 28454 28454 0 -1 4194560 105 0 0 0 0 0 0 0 20 0 1 0 1823421 5537792 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
	for _, tc := range []struct {
		line  string
		state string
		start uint64
	}{
		{line, "S", 1823421},
		{"28454 (a) b) c) S 28451 28454 28454 0 -1 4194560 105 0 0 0 0 0 0 0 20 0 1 0 77 5537792", "S", 77},
		{"16470 (sh) Z 16466 16470 16470 0 -1 4211012 62 0 0 0 0 0 0 0 20 0 1 0 351702 0 0 18446744073709551615 0 0 0 0 0 0 0 0 65538 0 0 0 17 1 0 0 0 0 0", "Z", 351702},
	} {
		if state, start, err := parseStat(tc.line); err != nil || state != tc.state || start != tc.start {
			t.Errorf("parseStat(%q) = %s, %d, %v; want %s, %d", tc.line, state, start, err, tc.state, tc.start)
		}
	}
	for _, bad := range []string{"", "1 (x) S 1 2 3", "28454 sleep S"} {
		if _, _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
}

func TestIDMap(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		content string
		ok      bool
		inside  map[uint32]int64 // host id → id inside, -1 for unmapped
	}{
		{"         0 1879048192      65536\n", true, map[uint32]int64{1879048192: 0, 1879049192: 1000, 1879048192 + 65535: 65535, 1879048192 + 65536: -1, 0: -1, 1879048191: -1}},
		{"         0          0 4294967295\n", true, map[uint32]int64{0: 0, 1000: 1000, 4294967294: 4294967294}},
		{"      1000 570098664          1\n         0 570097664        1000\n", true, map[uint32]int64{570098664: 1000, 570097664: 0, 570098663: 999, 570098665: -1}},
		{"", false, nil},
		{"0 x 1\n", false, nil},
		{"0 1 0\n", false, nil},
		{"0 1\n", false, nil},
	} {
		p := filepath.Join(dir, "uid_map")
		if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := readIDMap(p)
		if (err == nil) != tc.ok {
			t.Errorf("readIDMap(%q) = %v, %v; want ok %v", tc.content, m, err, tc.ok)
			continue
		}
		for host, want := range tc.inside {
			got, ok := m.inside(host)
			if (want < 0 && ok) || (want >= 0 && (!ok || int64(got) != want)) {
				t.Errorf("%q: host id %d is %d (mapped %v) inside, want %d", tc.content, host, got, ok, want)
			}
		}
	}
}
