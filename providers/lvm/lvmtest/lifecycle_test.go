package lvmtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sys/unix"
)

const vg = "rigplantest"

// stack declares a volume group on the first disk (through a by-id style
// link), a pool and one volume per filesystem, spelled the way operators
// write them rather than the way LVM reports them.
func (e *env) stack() {
	e.want("volume_group.main", "volume_group", map[string]cty.Value{
		"name": str(vg), "devices": strs(e.link(e.disks[0])), "extent_size": str("4096K"), "tags": strs("team:ci"),
	})
	e.want("thin_pool.cache", "thin_pool", map[string]cty.Value{
		"volume_group": str(vg), "name": str("cache"), "size": str("3001M"), "metadata_size": str("3M"),
	})
	for _, fs := range []string{"xfs", "ext4", "btrfs"} {
		e.want(`volume.v["`+fs+`"]`, "volume", map[string]cty.Value{
			"thin_pool": str(vg + "/cache"), "name": str("v-" + fs), "size": str("0.3G"), "filesystem": str(fs),
			"uid": cty.NumberIntVal(570098664), "gid": cty.NumberIntVal(570098665), "mode": str("750"),
		})
	}
}

func TestCreateThenNoDiff(t *testing.T) {
	e := newEnv(t)
	e.stack()
	e.mustConverge()
	e.assertNoDiff()

	objs := e.refresh()
	if len(objs) != 5 {
		t.Errorf("refresh found %d objects, want 5: %v", len(objs), objs)
	}
	for _, fs := range []string{"xfs", "ext4", "btrfs"} {
		o := objs[`volume.v["`+fs+`"]`]
		if !o.Managed || o.ID != vg+"/v-"+fs || o.State.GetAttr("filesystem").AsString() != fs {
			t.Errorf("volume %s: %+v", fs, o)
		}
		if len(o.DependsOn) != 1 || o.DependsOn[0].String() != "thin_pool.cache" {
			t.Errorf("volume %s DependsOn %v", fs, o.DependsOn)
		}
		// The superblock says so too (blkid, independently of rigplan).
		if got := strings.TrimSpace(e.sh("blkid", "-o", "value", "-s", "TYPE", "/dev/"+vg+"/v-"+fs)); got != fs {
			t.Errorf("blkid says %s holds %q", fs, got)
		}
		// The owner was applied to the filesystem's root.
		dir := e.mount("/dev/" + vg + "/v-" + fs)
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != 570098664 || st.Gid != 570098665 || st.Mode&0o7777 != 0o750 {
			t.Errorf("%s root is %d:%d %o, want 570098664:570098665 750", fs, st.Uid, st.Gid, st.Mode&0o7777)
		}
	}
	if d := objs["thin_pool.cache"].DependsOn; len(d) != 1 || d[0].String() != "volume_group.main" {
		t.Errorf("pool DependsOn %v", d)
	}
	pool := lvsJSON(t, e, "-o", "lv_name,lv_size,lv_metadata_size,lv_when_full", vg+"/cache")[0]
	// 3001M rounds up to 751 extents of 4 MiB; 3M metadata to one extent.
	if pool["lv_size"] != "3149922304" || pool["lv_metadata_size"] != "4194304" || pool["lv_when_full"] != "error" {
		t.Errorf("pool as LVM sees it: %v", pool)
	}
}

func TestOwnerAndModeChangeInPlace(t *testing.T) {
	e := newEnv(t)
	e.stack()
	e.mustConverge()
	e.want(`volume.v["ext4"]`, "volume", map[string]cty.Value{
		"thin_pool": str(vg + "/cache"), "name": str("v-ext4"), "size": str("0.3G"), "filesystem": str("ext4"),
		"uid": cty.NumberIntVal(1000), "gid": cty.NumberIntVal(1000), "mode": str("2775"),
	})
	resp, prior := e.plan(`volume.v["ext4"]`)
	if len(resp.RequiresReplace) > 0 || resp.Planned.RawEquals(prior) {
		t.Fatalf("owner change planned as replace %v or no change", resp.RequiresReplace)
	}
	e.mustConverge()
	e.assertNoDiff()
	dir := e.mount("/dev/" + vg + "/v-ext4")
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 1000 || st.Gid != 1000 || st.Mode&0o7777 != 0o2775 {
		t.Errorf("root is %d:%d %o, want 1000:1000 2775", st.Uid, st.Gid, st.Mode&0o7777)
	}
}

func TestDeleteInOrder(t *testing.T) {
	e := newEnv(t)
	e.stack()
	e.mustConverge()
	// A file on a volume must not stop its deletion, a mount must.
	dir := e.mount("/dev/" + vg + "/v-xfs")
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.desired = nil
	err := e.converge()
	mustContain(t, err, "delete volume.v[\"xfs\"]", "lvchange --activate n "+vg+"/v-xfs", "contains a filesystem in use")
	e.umount(dir)
	if err := e.converge(); err != nil {
		t.Fatal(err)
	}
	if objs := e.refresh(); len(objs) != 0 {
		t.Errorf("after deleting everything refresh finds %v", objs)
	}
	if out := e.sh("pvs", "--noheadings", "-o", "pv_name"); strings.TrimSpace(out) != "" {
		t.Errorf("PV labels left behind: %q", out)
	}
}
