package systemdtest

import (
	"strings"
	"testing"

	"github.com/rigplan/rigplan/testhost"
)

// The scratch disks and LVM work here as in the other flavour: the
// device-mapper modules were loaded by systemd-modules-load, and the
// test host's own lvm2 and thin-provisioning-tools make a thin pool.
func TestThinPoolOnScratchDisks(t *testing.T) {
	k := testhost.SystemdHost(t)
	disks := k.Disks()
	if len(disks) != 4 {
		t.Fatalf("Disks() = %v, want 4 scratch disks", disks)
	}
	const vg = "systemdtest"
	run(t, "vgcreate", vg, disks[0])
	run(t, "lvcreate", "--type", "thin-pool", "--size", "256M", "--name", "pool", vg)
	run(t, "lvcreate", "--thin", "--virtualsize", "1G", "--name", "vol", vg+"/pool")
	out := run(t, "lvs", "--noheadings", "--options", "lv_name,lv_attr", vg)
	if !strings.Contains(out, "pool") || !strings.Contains(out, "vol") {
		t.Errorf("lvs after creating a thin pool and volume:\n%s", out)
	}
}
