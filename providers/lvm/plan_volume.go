package lvm

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
)

func (pl *planner) planVolume() *providers.PlanResponse {
	pl.start()
	if pl.deleting() {
		return pl.resp // a thin volume holds nothing else; thin snapshots of it are independent
	}
	pool, ok1 := stringOf(pl.planned("thin_pool"))
	name, ok2 := stringOf(pl.planned("name"))
	if ok1 && ok2 {
		if vg, _, err := splitPoolID(pool); err == nil {
			pl.set("id", cty.StringVal(vg+"/"+name))
			pl.set("path", cty.StringVal("/dev/"+vg+"/"+name))
		}
	}
	if pl.creating() {
		return pl.resp
	}
	priorPool, _ := stringOf(pl.prior("thin_pool"))
	vg, _, _ := splitPoolID(priorPool)
	extent := pl.extentOf(vg)
	if _, shrink := pl.sizeChange("size", func(n int64) int64 { return lvBytes(n, extent) }); shrink {
		pl.replace("size") // filesystems cannot shrink safely (xfs not at all)
	}
	pl.sameMode()
	return pl.resp
}

// sameMode keeps the prior spelling of an equal mode ("755" and "0755").
func (pl *planner) sameMode() {
	want, ok1 := stringOf(pl.planned("mode"))
	have, ok2 := stringOf(pl.prior("mode"))
	if !ok1 || !ok2 {
		return
	}
	a, err1 := parseMode(want)
	b, err2 := parseMode(have)
	if err1 == nil && err2 == nil && a == b {
		pl.set("mode", pl.prior("mode"))
	}
}
