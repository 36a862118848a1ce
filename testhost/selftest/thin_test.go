package selftest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rigplan/rigplan/testhost"
)

// The whole path rigplan's LVM store depends on, against the real kernel: a
// VG over two disks, a thin pool, a tagged thin volume with XFS, and a
// tagged thin snapshot that keeps the old contents when the origin changes.
func TestThinPoolVolumeAndSnapshot(t *testing.T) {
	k := testhost.Kernel(t)
	disks := k.Disks()
	const vg = "selftest"

	run(t, "pvcreate", disks[0], disks[1])
	run(t, "vgcreate", vg, disks[0], disks[1])
	run(t, "lvcreate", "--type", "thin-pool", "--size", "2G", "--name", "pool", vg)
	run(t, "lvcreate", "--thin", "--virtualsize", "4G", "--name", "cache", "--addtag", "rigplan:managed", vg+"/pool")
	run(t, "mkfs.xfs", "-q", "/dev/"+vg+"/cache")

	origin := t.TempDir()
	mount(t, "/dev/"+vg+"/cache", origin)
	t.Cleanup(func() { run(t, "umount", origin) })
	if err := os.WriteFile(filepath.Join(origin, "file"), []byte("before"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "sync")

	run(t, "lvcreate", "--snapshot", "--name", "snap", "--addtag", "rigplan:snapshot", "--addtag", "branch:main", vg+"/cache")
	if err := os.WriteFile(filepath.Join(origin, "file"), []byte("after"), 0o644); err != nil {
		t.Fatal(err)
	}

	lvs := listLVs(t, vg)
	pool, cache, snap := lvs["pool"], lvs["cache"], lvs["snap"]
	if pool.Attr == "" || pool.Attr[0] != 't' {
		t.Errorf("pool lv_attr = %q, want a thin pool (t…)", pool.Attr)
	}
	if cache.Pool != "pool" || !slices.Equal(tags(cache), []string{"rigplan:managed"}) {
		t.Errorf("cache = %+v, want a thin volume in pool tagged rigplan:managed", cache)
	}
	if snap.Origin != "cache" || snap.Pool != "pool" || !slices.Equal(tags(snap), []string{"branch:main", "rigplan:snapshot"}) {
		t.Errorf("snap = %+v, want a thin snapshot of cache tagged branch:main,rigplan:snapshot", snap)
	}

	// Thin snapshots are created with "activation skip"; -K overrides it.
	run(t, "lvchange", "--activate", "y", "--ignoreactivationskip", vg+"/snap")
	snapDir := t.TempDir()
	mount(t, "/dev/"+vg+"/snap", snapDir, "nouuid") // same XFS UUID as the mounted origin
	t.Cleanup(func() { run(t, "umount", snapDir) })
	got, err := os.ReadFile(filepath.Join(snapDir, "file"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "before" {
		t.Errorf("snapshot has %q, want the contents at snapshot time %q", got, "before")
	}
}
