package lvm

import (
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
)

func (pl *planner) planPool() *providers.PlanResponse {
	pl.start()
	if pl.deleting() {
		vg, _ := stringOf(pl.prior("volume_group"))
		name, _ := stringOf(pl.prior("name"))
		pl.checkBlockers("thin pool", vg, name)
		return pl.resp
	}
	vg, ok1 := stringOf(pl.planned("volume_group"))
	name, ok2 := stringOf(pl.planned("name"))
	if ok1 && ok2 {
		pl.set("id", cty.StringVal(vg+"/"+name))
	}
	if pl.creating() {
		return pl.resp
	}
	priorVG, _ := stringOf(pl.prior("volume_group"))
	priorName, _ := stringOf(pl.prior("name"))
	extent := pl.extentOf(priorVG)
	if _, shrink := pl.sizeChange("size", func(n int64) int64 { return lvBytes(n, extent) }); shrink {
		pl.replace("size") // LVM cannot shrink a thin pool
	}
	if _, shrink := pl.sizeChange("metadata_size", func(n int64) int64 { return metadataBytes(n, extent) }); shrink {
		pl.replace("metadata_size")
	}
	if _, shrink := pl.sizeChange("chunk_size", exact); shrink {
		pl.replace("chunk_size")
	}
	if pl.replacing() {
		pl.checkBlockers("thin pool", priorVG, priorName)
		return pl.resp
	}
	pl.checkDiscards(priorVG, priorName)
	return pl.resp
}

// checkDiscards refuses to switch an active pool to or from "ignore":
// lvchange says "Cannot change support for discards while pool volume is
// active", and rigplan does not deactivate a pool its volumes live in.
func (pl *planner) checkDiscards(vg, name string) {
	want, ok1 := stringOf(pl.planned("discards"))
	have, ok2 := stringOf(pl.prior("discards"))
	if !ok1 || !ok2 || want == have || (want != "ignore" && have != "ignore") {
		return
	}
	if lv := pl.snap.lv(vg, name); lv == nil || !lv.Attr.Active() {
		return
	}
	id := vg + "/" + name
	pl.errorf(fmt.Sprintf("Cannot change discards of %s from %s to %s while it is active", id, have, want),
		fmt.Sprintf("%s: LVM can switch a thin pool to or from \"ignore\" only while the pool is inactive. Unmount its volumes, "+
			"deactivate them and the pool (lvchange -an %s), apply, then activate again (lvchange -ay %s); or keep discards = %q.",
			pl.req.Addr, id, vg, have))
}
