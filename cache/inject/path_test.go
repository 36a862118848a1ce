package inject

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckPath(t *testing.T) {
	allowed := []string{"/home/runner/cache", "/srv/ci", "relative/ignored", "/not/clean/"}
	for _, tc := range []struct {
		path string
		want string // "" = accepted; otherwise a part of the reason
	}{
		{"/home/runner/cache", ""},
		{"/home/runner/cache/npm", ""},
		{"/home/runner/cache/a/b/c", ""},
		{"/srv/ci/x", ""},
		{"/home/runner/cache2", "outside the machine's allowed prefixes (/home/runner/cache, /srv/ci"},
		{"/home/runner", "outside"},
		{"/home/runner/cach", "outside"},
		{"/srv", "outside"},
		{"/etc", "outside"},
		{"/relative/ignored/x", "outside"},
		{"/not/clean/x", "outside"},
		{"", "empty"},
		{"home/runner/cache", "relative"},
		{"./home/runner/cache", "relative"},
		{"/home/runner/cache/..", `".." component`},
		{"/home/runner/cache/../../../etc", `".." component`},
		{"/home/runner/cache/.", `"." component`},
		{"/home/runner/cache/./x", `"." component`},
		{"/home/runner/cache/", `not clean: give "/home/runner/cache"`},
		{"/home/runner//cache", "not clean"},
		{"//home/runner/cache", "not clean"},
		{"/", "refusing to mount over the machine's root"},
		{"/home/runner/cache/a\x00b", "NUL"},
		{"/home/runner/cache/" + strings.Repeat("a", 4096), "over the limit"},
		{"/home/runner/cache/..foo", ""},
		{"/home/runner/cache/ünï cödé", ""},
	} {
		err := CheckPath(tc.path, allowed)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckPath(%q) = %v, want accepted", tc.path, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckPath(%q) = %v, want an error containing %q", tc.path, err, tc.want)
		case err != nil && !errors.Is(err, ErrBadPath):
			t.Errorf("CheckPath(%q) = %v, not ErrBadPath", tc.path, err)
		}
	}
}

func TestCheckPathPrefixes(t *testing.T) {
	if err := CheckPath("/anything/at/all", []string{"/"}); err != nil {
		t.Errorf("prefix / refused a path: %v", err)
	}
	if err := CheckPath("/home/runner/cache", nil); err == nil || !strings.Contains(err.Error(), "declares no allowed prefixes") {
		t.Errorf("no prefixes: %v", err)
	}
}
