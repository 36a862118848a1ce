package lvm

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/internal/mountinfo"
)

func TestMountPointCaptured(t *testing.T) {
	path := filepath.Join("testdata", "mountinfo.txt")
	mp, err := mountPoint(path, devNum{254, 4})
	if err != nil || mp != "/run/capture-mnt" {
		t.Errorf("vg0/default: %q, %v", mp, err)
	}
	mp, err = mountPoint(path, devNum{254, 5})
	if err != nil || mp != "" {
		t.Errorf("unmounted vg0/node: %q, %v", mp, err)
	}
}

func TestFindMountPrefersRoot(t *testing.T) {
	// Not captured: a bind mount of a subdirectory listed before the
	// filesystem's own mount, with a space in the path.
	in := "30 20 254:9 /sub /srv/bind rw - xfs /dev/mapper/vg0-x rw\n" +
		"31 20 254:9 / /srv/my\\040cache rw - xfs /dev/mapper/vg0-x rw\n"
	entries, err := mountinfo.Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if mp := findMount(entries, devNum{254, 9}); mp != "/srv/my cache" {
		t.Errorf("got %q", mp)
	}
	if mp := findMount(entries[:1], devNum{254, 9}); mp != "/srv/bind" {
		t.Errorf("bind mount only: %q", mp)
	}
	if mp := findMount(entries, devNum{254, 1}); mp != "" {
		t.Errorf("another device: %q", mp)
	}
}
