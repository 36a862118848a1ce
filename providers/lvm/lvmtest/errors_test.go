package lvmtest

import (
	"context"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
)

func (e *env) planGroup(devices ...string) *providers.PlanResponse {
	e.t.Helper()
	e.want("volume_group.main", "volume_group", map[string]cty.Value{"name": str(vg), "devices": strs(devices...)})
	resp, _ := e.plan("volume_group.main")
	return resp
}

func TestPlanRefusesUnusableDevices(t *testing.T) {
	e := newEnv(t)

	mustContain(t, errs(e.planGroup("/dev/disk/by-id/no-such-disk").Diagnostics),
		"/dev/disk/by-id/no-such-disk does not exist", "ls -l /dev/disk/by-id/")

	e.sh("vgcreate", "-q", "other", e.disks[1])
	mustContain(t, errs(e.planGroup(e.disks[0], e.link(e.disks[1])).Diagnostics),
		"already in volume group other", "vgreduce other "+e.disks[1])

	e.sh("mkfs.ext4", "-q", e.disks[2])
	mustContain(t, errs(e.planGroup(e.disks[2]).Diagnostics), "filesystem signature (ext4)", "wipefs --all "+e.disks[2])

	writeMBR(t, e.disks[3])
	mustContain(t, errs(e.planGroup(e.disks[3]).Diagnostics), "partition table (dos)", "wipefs --all "+e.disks[3])

	if resp := e.planGroup(e.disks[0]); resp.Diagnostics.HasErrors() {
		t.Errorf("an empty disk is refused: %v", resp.Diagnostics)
	}
}

// The plan is the first line of defence; pvcreate answering its own
// question "no" is the second. Even an apply without a plan must leave an
// operator's filesystem alone.
func TestApplyNeverWipesASignature(t *testing.T) {
	e := newEnv(t)
	e.sh("mkfs.ext4", "-q", e.disks[0])
	e.want("volume_group.main", "volume_group", map[string]cty.Value{"name": str(vg), "devices": strs(e.disks[0])})
	res := e.schemas["volume_group"]
	ar := e.p.Apply(context.Background(), &providers.ApplyRequest{
		Addr: e.desired[0].Addr, Action: providers.Create, Prior: cty.NullVal(res.ImpliedType()), Planned: e.desired[0].Config,
	})
	mustContain(t, errs(ar.Diagnostics), "pvcreate "+e.disks[0], "ext4 signature detected", "Aborted wiping")
	if got := strings.TrimSpace(e.sh("blkid", "-p", "-o", "value", "-s", "TYPE", e.disks[0])); got != "ext4" {
		t.Errorf("the disk holds %q after the refused apply, want its ext4 intact", got)
	}
}

func TestLVMErrorsReachTheUser(t *testing.T) {
	e := newEnv(t)
	e.want("volume_group.main", "volume_group", map[string]cty.Value{"name": str(vg), "devices": strs(e.disks[0])})
	e.want("thin_pool.cache", "thin_pool", map[string]cty.Value{"volume_group": str(vg), "name": str("cache"), "size": str("100G")})
	err := e.converge()
	// The command line and LVM's own words, not just an exit status.
	mustContain(t, err, "Could not create thin pool "+vg+"/cache", "lvcreate --type thin-pool", "insufficient free space")
}

func TestFailedMkfsLeavesNoVolume(t *testing.T) {
	e := newEnv(t)
	e.one("ext4", "100M")
	e.want("volume.data", "volume", map[string]cty.Value{
		"thin_pool": str(vg + "/cache"), "name": str("data"), "size": str("100M"), "filesystem": str("ext4"),
		"mkfs_options": cty.ListVal([]cty.Value{str("-O"), str("no_such_feature")}),
	})
	mustContain(t, e.converge(), "mkfs.ext4 -q -O no_such_feature", "Invalid filesystem option set", "was removed again")
	if _, ok := e.refresh()["volume.data"]; ok {
		t.Error("refresh reports the half-made volume")
	}
	if lvs := lvsJSON(t, e, "-o", "lv_name", vg); len(lvs) != 1 || lvs[0]["lv_name"] != "cache" {
		t.Errorf("LVs after the failed create: %v", lvs)
	}
	// mkfs options are recorded, so changing them is a replacement.
	e.want("volume.data", "volume", map[string]cty.Value{
		"thin_pool": str(vg + "/cache"), "name": str("data"), "size": str("100M"), "filesystem": str("ext4"),
		"mkfs_options": cty.ListVal([]cty.Value{str("-b"), str("4096")}),
	})
	e.mustConverge()
	e.assertNoDiff()
	e.want("volume.data", "volume", map[string]cty.Value{
		"thin_pool": str(vg + "/cache"), "name": str("data"), "size": str("100M"), "filesystem": str("ext4"),
	})
	if resp, _ := e.plan("volume.data"); len(resp.RequiresReplace) != 1 || !resp.RequiresReplace[0].Equals(cty.GetAttrPath("mkfs_options")) {
		t.Errorf("dropping mkfs_options: replace %v", resp.RequiresReplace)
	}
}

// writeMBR writes a DOS partition table with one Linux partition.
func writeMBR(t *testing.T, disk string) {
	t.Helper()
	mbr := make([]byte, 512)
	entry := mbr[446:462]
	entry[4] = 0x83 // Linux
	binary.LittleEndian.PutUint32(entry[8:], 2048)
	binary.LittleEndian.PutUint32(entry[12:], 204800)
	mbr[510], mbr[511] = 0x55, 0xAA
	f, err := os.OpenFile(disk, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(mbr, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}
