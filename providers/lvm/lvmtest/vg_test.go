package lvmtest

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestExtendAndReduceGroup(t *testing.T) {
	e := newEnv(t)
	first, second := e.link(e.disks[0]), e.disks[1]
	e.want("volume_group.main", "volume_group", map[string]cty.Value{"name": str(vg), "devices": strs(first)})
	e.mustConverge()
	size1 := e.refresh()["volume_group.main"].State.GetAttr("size").AsString()

	e.want("volume_group.main", "volume_group", map[string]cty.Value{"name": str(vg), "devices": strs(first, second)})
	resp, _ := e.plan("volume_group.main")
	if len(resp.RequiresReplace) > 0 || resp.Planned.GetAttr("size").IsKnown() {
		t.Fatalf("adding a device: replace %v, planned size %#v (want unknown)", resp.RequiresReplace, resp.Planned.GetAttr("size"))
	}
	e.mustConverge()
	e.assertNoDiff()
	state := e.refresh()["volume_group.main"].State
	if !state.GetAttr("devices").RawEquals(strs(first, second)) || state.GetAttr("size").AsString() == size1 {
		t.Errorf("after extending: devices %#v, size %s (was %s)", state.GetAttr("devices"), state.GetAttr("size").AsString(), size1)
	}
	if out := e.sh("pvs", "--noheadings", "-o", "vg_name", second); strings.TrimSpace(out) != vg {
		t.Errorf("%s is in %q", second, out)
	}

	// A PV holding extents cannot leave; pvmove is the way out.
	e.sh("lvcreate", "-q", "--size", "100M", "--name", "pinned", vg, second)
	e.want("volume_group.main", "volume_group", map[string]cty.Value{"name": str(vg), "devices": strs(first)})
	resp, _ = e.plan("volume_group.main")
	mustContain(t, errs(resp.Diagnostics), "pvmove "+second, "25 allocated extents")
	e.sh("lvremove", "-q", "-y", vg+"/pinned")

	e.mustConverge()
	e.assertNoDiff()
	if out := e.sh("pvs", "--noheadings", "-o", "pv_name"); strings.Contains(out, second) {
		t.Errorf("%s still carries a PV label after leaving the group: %q", second, out)
	}
}
