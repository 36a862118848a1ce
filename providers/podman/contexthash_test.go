package podman

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBuildDigest(t *testing.T) {
	dir := t.TempDir()
	write := func(p, body string, mode os.FileMode) {
		t.Helper()
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("Containerfile", "FROM scratch\nCOPY . /\n", 0o644)
	write("app/main.sh", "echo hi\n", 0o755)
	write("node_modules/x/index.js", "1", 0o644)
	write("logs/keep.log", "k", 0o644)
	write("logs/drop.log", "d", 0o644)
	write(".containerignore", "# not sent to podman\nnode_modules\n/logs/*.log\n!logs/keep.log\n", 0o644)
	b := &buildConfig{Context: dir, Containerfile: filepath.Join(dir, "Containerfile"), Args: map[string]string{"A": "1"}, Isolation: "chroot"}

	base, err := buildDigest(b)
	if err != nil {
		t.Fatal(err)
	}
	same := func(what string, want bool) {
		t.Helper()
		got, err := buildDigest(b)
		if err != nil {
			t.Fatal(err)
		}
		if (got == base) != want {
			t.Errorf("%s: digest changed = %v, want %v", what, got != base, !want)
		}
		base = got
	}
	same("nothing", true)
	b.Isolation = "oci"
	same("isolation", true)
	write("node_modules/x/index.js", "2", 0o644)
	same("an ignored directory's file", true)
	write("logs/drop.log", "changed", 0o644)
	same("an ignored file", true)
	write("logs/keep.log", "changed", 0o644)
	same("a re-included file", false)
	write("app/main.sh", "echo bye\n", 0o755)
	same("a file's content", false)
	os.Chmod(filepath.Join(dir, "app/main.sh"), 0o644)
	same("a file's mode", false)
	write("app/new", "", 0o644)
	same("a new file", false)
	os.Symlink("main.sh", filepath.Join(dir, "app/link"))
	same("a new symlink", false)
	os.Remove(filepath.Join(dir, "app/link"))
	os.Symlink("new", filepath.Join(dir, "app/link"))
	same("a symlink's target", false)
	b.Args["A"] = "2"
	same("a build argument", false)
	b.Target = "final"
	same("the target", false)
	write("Containerfile", "FROM scratch\n", 0o644)
	same("the Containerfile", false)

	b.Context = filepath.Join(dir, "missing")
	if _, err := buildDigest(b); err == nil {
		t.Error("a missing context has a digest")
	}
}
