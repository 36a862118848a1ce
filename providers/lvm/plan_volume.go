package lvm

import (
	"fmt"

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
	pl.unfinished(vg)
	extent := pl.extentOf(vg)
	if _, shrink := pl.sizeChange("size", func(n int64) int64 { return lvBytes(n, extent) }); shrink {
		pl.replace("size") // filesystems cannot shrink safely (xfs not at all)
	}
	pl.sameMode()
	return pl.resp
}

// unfinished plans a volume left half-made by an apply that stopped
// (it carries the unfinished mark; see createVolume). Without a
// filesystem it holds nothing, so it is made again: an update, which the
// data guard lets through, rather than the replacement the missing
// filesystem would otherwise force. With its filesystem made, only its
// owner is missing, which the plan already shows.
func (pl *planner) unfinished(vg string) {
	name, _ := stringOf(pl.prior("name"))
	lv := pl.snap.lv(vg, name)
	if lv == nil || !parseMarks(lv.Tags).Unfinished {
		return
	}
	if !pl.prior("filesystem").IsNull() {
		pl.resp.Diagnostics = append(pl.resp.Diagnostics, warnDiag("Volume left unfinished",
			fmt.Sprintf("%s (%s) was left half-made by an apply that stopped: its filesystem is made, its owner not yet. Apply finishes it.", pl.req.Addr, lv.ID())))
		return
	}
	// A change of anything else that forces a replacement still does,
	// and still meets the data guard.
	pl.noReplace("filesystem")
	pl.set("uuid", cty.UnknownVal(cty.String))
	if pl.req.Config.GetAttr("mode").IsNull() {
		pl.set("mode", cty.UnknownVal(cty.String))
	}
	pl.resp.Diagnostics = append(pl.resp.Diagnostics, warnDiag("Volume left unfinished",
		fmt.Sprintf("%s (%s) was left without a filesystem by an apply that stopped half-way, and holds no data. Apply removes it and creates it again.", pl.req.Addr, lv.ID())))
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
