package inject

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseStartTime(t *testing.T) {
	// Captured from /proc/PID/stat of `sleep 1000` (fields after 22
	// shortened), and the same with a hostile command name.
	line := "28454 (sleep) S 28451 28454 28454 0 -1 4194560 105 0 0 0 0 0 0 0 20 0 1 0 1823421 5537792 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"
	for _, tc := range []struct {
		line string
		want uint64
	}{
		{line, 1823421},
		{"28454 (a) b) c) S 28451 28454 28454 0 -1 4194560 105 0 0 0 0 0 0 0 20 0 1 0 77 5537792", 77},
	} {
		if got, err := parseStartTime(tc.line); err != nil || got != tc.want {
			t.Errorf("parseStartTime(%q) = %d, %v; want %d", tc.line, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "1 (x) S 1 2 3", "28454 sleep S"} {
		if _, err := parseStartTime(bad); err == nil {
			t.Errorf("parseStartTime(%q) succeeded", bad)
		}
	}
}

func TestMapRoot(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		content string
		want    int
		ok      bool
	}{
		{"         0 1879048192      65536\n", 1879048192, true},
		{"         0          0 4294967295\n", 0, true},
		{"      1000 570098664          1\n         0 570097664        1000\n", 570097664, true},
		{"      1000 570098664          1\n", 0, false},
		{"", 0, false},
		{"0 x 1\n", 0, false},
	} {
		p := filepath.Join(dir, "uid_map")
		if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := mapRoot(p)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("mapRoot(%q) = %d, %v; want %d (ok %v)", tc.content, got, err, tc.want, tc.ok)
		}
	}
}
