package lvmtest

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestUnmanagedVolumesAreNeverTouched(t *testing.T) {
	e := newEnv(t)
	e.one("ext4", "100M")
	e.mustConverge()
	// An operator's own volumes in rigplan's group and pool.
	e.sh("lvcreate", "-q", "--size", "100M", "--name", "handmade", vg)
	e.sh("lvcreate", "-q", "--type", "thin", "--virtualsize", "1G", "--thinpool", vg+"/cache", "--name", "mine", "--addtag", "rigplan:managed")
	objs := e.refresh()
	if len(objs) != 3 {
		t.Errorf("refresh reports %d objects, want rigplan's 3: %v", len(objs), objs)
	}
	for _, o := range objs {
		if strings.Contains(o.ID, "handmade") || strings.Contains(o.ID, "mine") {
			t.Errorf("refresh reports %s as %s", o.ID, o.Addr)
		}
	}
	e.assertNoDiff()

	// A config naming an existing LV gets it reported unmanaged.
	e.want("volume.claim", "volume", map[string]cty.Value{
		"thin_pool": str(vg + "/cache"), "name": str("mine"), "size": str("1G"), "filesystem": str("ext4"),
	})
	if o := e.refresh()["volume.claim"]; o.Managed || o.ID != vg+"/mine" {
		t.Errorf("volume.claim: %+v, want unmanaged %s/mine", o, vg)
	}
	mustContain(t, e.converge(), "exists", "not managed")
	e.drop("volume.claim")

	// Dropping the pool would destroy "mine": refused before anything
	// is deleted, naming it.
	e.drop("volume.data")
	e.drop("thin_pool.cache")
	err := errs(e.planDelete("thin_pool.cache").Diagnostics)
	mustContain(t, err, "Cannot delete thin pool "+vg+"/cache", vg+"/mine (thin volume, not managed by rigplan)")
	if strings.Contains(err.Error(), vg+"/data") {
		t.Errorf("the managed volume being deleted is listed as a blocker: %v", err)
	}
	// The apply refuses too, should a plan slip through.
	if err := e.deleteOrphans(e.refresh()); err == nil || !strings.Contains(err.Error(), vg+"/mine") {
		t.Errorf("deleting the pool: %v", err)
	}
	if lvs := lvsJSON(t, e, "-o", "lv_name", vg+"/mine", vg+"/handmade"); len(lvs) != 2 {
		t.Errorf("unmanaged LVs after the refused deletes: %v", lvs)
	}
}

func TestVolumeRemovedBehindRigplansBack(t *testing.T) {
	e := newEnv(t)
	e.one("xfs", "300M")
	e.mustConverge()
	e.sh("lvremove", "-q", "-y", vg+"/data")
	objs := e.refresh()
	if _, ok := objs["volume.data"]; ok {
		t.Fatalf("refresh still reports the removed volume: %v", objs["volume.data"])
	}
	if len(objs) != 2 {
		t.Errorf("objects: %v", objs)
	}
	e.mustConverge() // creates it again
	if o := e.refresh()["volume.data"]; !o.Managed {
		t.Errorf("volume.data not recreated: %+v", o)
	}
}
