package rootfs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// outside makes a directory beside the root holding one file, standing
// for the host: no layer may write, replace or remove anything there.
func outside(t *testing.T, base string) string {
	t.Helper()
	dir := filepath.Join(base, "host")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "victim"), []byte("host data"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// hostUntouched checks that the host directory still holds exactly its
// one file, unchanged, and that nothing appeared beside the root.
func hostUntouched(t *testing.T, base, host string) {
	t.Helper()
	if got := listTree(t, host); !slices.Equal(got, []string{".", "victim"}) {
		t.Errorf("host directory now holds %q", got)
	}
	if got := readFile(t, filepath.Join(host, "victim")); got != "host data" {
		t.Errorf("host file changed to %q", got)
	}
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"host", "root"}) {
		t.Errorf("beside the root: %q", names)
	}
}

// Entries and hard links naming ".." are refused before anything is
// written.
func TestApplyLayerRefusesDotDot(t *testing.T) {
	for name, l := range map[string][]entry{
		"parent":           {file("../victim", "pwned", 0o644)},
		"deep parent":      {file("a/../../host/victim", "pwned", 0o644)},
		"inner dot-dot":    {file("a/b/../c", "x", 0o644)},
		"absolute dotdot":  {file("/../../host/victim", "pwned", 0o644)},
		"hard link":        {hardlink("l", "../host/victim")},
		"hard link deep":   {file("a", "a", 0o644), hardlink("l", "a/../../host/victim")},
		"whiteout parent":  {file("../host/.wh.victim", "", 0o644)},
		"symlink then dot": {symlink("s", "."), file("s/../../host/victim", "pwned", 0o644)},
	} {
		t.Run(name, func(t *testing.T) {
			base, root := newRoot(t)
			host := outside(t, base)
			_, err := ApplyLayer(context.Background(), root, bytes.NewReader(layer(t, l...)), Options{})
			if err == nil || !strings.Contains(err.Error(), "'..'") {
				t.Errorf("err = %v, want a refusal of '..'", err)
			}
			hostUntouched(t, base, host)
		})
	}
}

// Symbolic links, absolute or climbing with "..", are resolved inside the
// root, never on the host: a path through one either lands inside the
// root or is refused.
func TestApplyLayerResolvesSymlinksInsideRoot(t *testing.T) {
	t.Run("absolute link to the host directory", func(t *testing.T) {
		base, root := newRoot(t)
		host := outside(t, base)
		_, err := ApplyLayer(context.Background(), root, bytes.NewReader(layer(t,
			symlink("escape", host),
			file("escape/pwned", "pwned", 0o644),
		)), Options{})
		if err == nil {
			t.Error("no error writing through a link to a directory that is missing inside the root")
		}
		hostUntouched(t, base, host)
	})
	t.Run("relative link climbing out", func(t *testing.T) {
		base, root := newRoot(t)
		host := outside(t, base)
		// Inside the root, ../../../host is /host: make it exist there.
		apply(t, root, Options{}, layer(t,
			dir("host/", 0o755),
			symlink("a/escape", "../../../host"),
			file("a/escape/pwned", "inside", 0o644),
			file("a/escape/victim", "inside", 0o644),
		))
		if got := readFile(t, filepath.Join(root, "host/pwned")); got != "inside" {
			t.Errorf("root/host/pwned = %q", got)
		}
		hostUntouched(t, base, host)
	})
	t.Run("link to / then a system file", func(t *testing.T) {
		base, root := newRoot(t)
		host := outside(t, base)
		apply(t, root, Options{}, layer(t,
			symlink("etc", "/"),
			file("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644),
		))
		if got := readFile(t, filepath.Join(root, "passwd")); !strings.HasPrefix(got, "root:") {
			t.Errorf("root/passwd = %q", got)
		}
		hostUntouched(t, base, host)
	})
	t.Run("entry replacing a link to the host", func(t *testing.T) {
		base, root := newRoot(t)
		host := outside(t, base)
		apply(t, root, Options{},
			layer(t, symlink("victim", filepath.Join(host, "victim"))),
			layer(t, file("victim", "replaced", 0o644)),
		)
		if got := readFile(t, filepath.Join(root, "victim")); got != "replaced" {
			t.Errorf("root/victim = %q", got)
		}
		hostUntouched(t, base, host)
	})
	t.Run("whiteout and opaque through a link", func(t *testing.T) {
		base, root := newRoot(t)
		host := outside(t, base)
		apply(t, root, Options{}, layer(t,
			symlink("h", host),
			symlink("up", "../.."),
			file("h/.wh.victim", "", 0o644),
			file("up/host/.wh.victim", "", 0o644),
			file("h/.wh..wh..opq", "", 0o644),
		))
		hostUntouched(t, base, host)
	})
	t.Run("hard link to a host path", func(t *testing.T) {
		base, root := newRoot(t)
		host := outside(t, base)
		_, err := ApplyLayer(context.Background(), root, bytes.NewReader(layer(t,
			hardlink("stolen", filepath.Join(host, "victim")),
		)), Options{})
		if err == nil {
			t.Error("a hard link to a host path (missing inside the root) was not refused")
		}
		mustNotExist(t, filepath.Join(root, "stolen"))
		hostUntouched(t, base, host)
	})
	t.Run("hard link through a link", func(t *testing.T) {
		base, root := newRoot(t)
		host := outside(t, base)
		_, err := ApplyLayer(context.Background(), root, bytes.NewReader(layer(t,
			symlink("h", host),
			hardlink("stolen", "h/victim"),
		)), Options{})
		if err == nil {
			t.Error("a hard link through a link to the host was not refused")
		}
		mustNotExist(t, filepath.Join(root, "stolen"))
		hostUntouched(t, base, host)
	})
}
