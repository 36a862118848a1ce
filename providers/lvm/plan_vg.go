package lvm

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/bytesize"
	"github.com/rigplan/rigplan/providers"
)

func (pl *planner) planVG(ctx context.Context) *providers.PlanResponse {
	pl.start()
	if pl.deleting() {
		if name, ok := stringOf(pl.prior("name")); ok {
			pl.checkBlockers("volume group", name, "")
		}
		return pl.resp
	}
	name, nameKnown := stringOf(pl.planned("name"))
	if nameKnown {
		pl.set("id", cty.StringVal(name))
	}
	if pl.creating() {
		pl.checkDevices(ctx, stringsOrNil(pl.planned("devices")), "")
		return pl.resp
	}
	priorName, _ := stringOf(pl.prior("name"))
	pl.sameExtentSize()
	if pl.replacing() {
		pl.checkBlockers("volume group", priorName, "")
		pl.checkDevices(ctx, stringsOrNil(pl.planned("devices")), priorName)
		return pl.resp
	}
	pl.planDevices(ctx, priorName)
	return pl.resp
}

// sameExtentSize keeps the prior spelling of an equal extent size.
func (pl *planner) sameExtentSize() {
	want, ok1 := stringOf(pl.planned("extent_size"))
	have, ok2 := stringOf(pl.prior("extent_size"))
	if !ok1 || !ok2 {
		return
	}
	w, err1 := bytesize.Parse(want)
	h, err2 := bytesize.Parse(have)
	if err1 == nil && err2 == nil && w == h {
		pl.set("extent_size", pl.prior("extent_size"))
		pl.noReplace("extent_size")
	}
}

// stringsOrNil lists a wholly known set's strings; nil while unknown.
func stringsOrNil(v cty.Value) []string {
	if !v.IsWhollyKnown() {
		return nil
	}
	return stringsOf(v)
}

// planDevices works out which devices an in-place update adds and
// removes, and checks that it can.
func (pl *planner) planDevices(ctx context.Context, vg string) {
	want := pl.planned("devices")
	if !want.IsWhollyKnown() {
		pl.set("size", cty.UnknownVal(cty.String))
		return
	}
	added, removed, same := diffDevices(pl.p.host, stringsOf(want), stringsOf(pl.prior("devices")))
	if same {
		// Only the spelling differs (a by-id link for the same disk).
		pl.set("devices", pl.prior("devices"))
		return
	}
	pl.set("size", cty.UnknownVal(cty.String))
	pl.checkDevices(ctx, added, vg)
	for _, dev := range removed {
		pv := pl.pvOf(vg, dev)
		if pv != nil && pv.PEAlloc > 0 {
			pl.errorf(fmt.Sprintf("Cannot remove %s from volume group %s", dev, vg),
				fmt.Sprintf("%s: %s still holds %d allocated extents of volume group %s. Move them to the group's other devices first (pvmove %s), then apply again.",
					pl.req.Addr, dev, pv.PEAlloc, vg, pv.Name))
		}
	}
}

// pvOf finds a VG's PV by the name the state reports for it.
func (pl *planner) pvOf(vg, dev string) *pvRow {
	n, _, err := pl.p.host.device(dev)
	for _, pv := range pl.snap.pvsOf(vg) {
		if pv.Name == dev || (err == nil && pv.Major == n.Major && pv.Minor == n.Minor) {
			return pv
		}
	}
	return nil
}

// diffDevices compares two device lists by the device they name: added
// are in want only, removed in have only; same is true when both name the
// same devices, however spelled.
func diffDevices(host hostProbe, want, have []string) (added, removed []string, same bool) {
	key := func(p string) string {
		if n, _, err := host.device(p); err == nil {
			return n.String()
		}
		return p
	}
	haveKeys, wantKeys := map[string]bool{}, map[string]bool{}
	for _, d := range have {
		haveKeys[key(d)] = true
	}
	for _, d := range want {
		k := key(d)
		wantKeys[k] = true
		if !haveKeys[k] {
			added = append(added, d)
		}
	}
	for _, d := range have {
		if !wantKeys[key(d)] {
			removed = append(removed, d)
		}
	}
	return added, removed, len(added) == 0 && len(removed) == 0
}
