package lvmstoretest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/store/storetest"
)

// ext4 default volumes work like xfs ones (xfs is the conformance test's).
func TestExt4Default(t *testing.T) {
	e := setup(t, "ext4", "4G", 0)
	if _, err := e.store.Create(bg, "default", "e1", "m", nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := e.store.Mount(bg, "e1", dir); err != nil {
		t.Fatal(err)
	}
	defer e.store.Unmount(bg, dir)
	b, err := os.ReadFile(filepath.Join(dir, storetest.DefaultFile))
	if err != nil || string(b) != storetest.DefaultContent {
		t.Errorf("the ext4 snapshot reads %q, %v", b, err)
	}
}

// A btrfs default volume is refused at Mount with a message that says
// why and what to do, and nothing is left mounted.
func TestBtrfsDefaultRefused(t *testing.T) {
	e := setup(t, "btrfs", "4G", 0)
	if _, err := e.store.Create(bg, "default", "b1", "m", nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	err := e.store.Mount(bg, "b1", dir)
	if err == nil {
		e.store.Unmount(bg, dir)
		t.Fatal("Mount of a btrfs snapshot succeeded")
	}
	for _, want := range []string{"btrfs", "xfs or ext4", "vg0/default"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), dir) {
		t.Errorf("%s is mounted after the refusal", dir)
	}
}
