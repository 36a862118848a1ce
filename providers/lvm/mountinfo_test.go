package lvm

import (
	"path/filepath"
	"strings"
	"testing"
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

func TestFindMountPrefersRootAndUnescapes(t *testing.T) {
	// Not captured: a bind mount of a subdirectory listed before the
	// filesystem's own mount, with a space in the path.
	in := "30 20 254:9 /sub /srv/bind rw - xfs /dev/mapper/vg0-x rw\n" +
		"31 20 254:9 / /srv/my\\040cache rw - xfs /dev/mapper/vg0-x rw\n"
	mp, err := findMount(strings.NewReader(in), devNum{254, 9})
	if err != nil || mp != "/srv/my cache" {
		t.Errorf("got %q, %v", mp, err)
	}
	mp, _ = findMount(strings.NewReader(in[:strings.Index(in, "\n")+1]), devNum{254, 9})
	if mp != "/srv/bind" {
		t.Errorf("bind mount only: %q", mp)
	}
	if _, err := findMount(strings.NewReader("garbage\n"), devNum{1, 1}); err == nil {
		t.Error("malformed line accepted")
	}
}
