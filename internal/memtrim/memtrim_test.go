package memtrim

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFile is the process's resident file-backed memory in kB.
func rssFile(t *testing.T) int {
	t.Helper()
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("this kernel's /proc/self/status has no RssFile line")
	return 0
}

func TestReleaseDropsBinaryPagesAndKeepsRunning(t *testing.T) {
	before := rssFile(t)
	if err := Release(); err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	// The test binary's start-up faulted in well over a megabyte of its
	// text; what this function and the runtime need again comes back.
	if after >= before {
		t.Errorf("RssFile %d kB before Release, %d kB after: nothing was dropped", before, after)
	}
	// The process goes on running code from the dropped pages.
	if got := strings.Repeat("ab", 3); got != "ababab" {
		t.Fatalf("after Release: %q", got)
	}
	t.Logf("RssFile %d kB → %d kB", before, after)
}
