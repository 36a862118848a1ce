package lvm

import (
	"context"
	"errors"
	"fmt"

	"github.com/rigplan/rigplan/providers"
)

func (a *applier) applyPool(ctx context.Context) *providers.ApplyResponse {
	vg, name := a.str("volume_group"), a.str("name")
	switch a.req.Action {
	case providers.Create:
		if !a.createPool(ctx, vg, name) {
			return a.respondGone(vg, name)
		}
	case providers.Update:
		a.updatePool(ctx, vg, name)
	case providers.Delete:
		if a.deleteLV(ctx, vg, name, true) {
			return a.respondGone(vg, name)
		}
	}
	return a.respondLV(ctx, vg, name)
}

func yesNo(b bool) string {
	if b {
		return "y"
	}
	return "n"
}

// createPool makes the pool. It reports whether the pool may exist:
// false when lvcreate never succeeded.
func (a *applier) createPool(ctx context.Context, vg, name string) bool {
	extent := defaultExtentSize
	if r := a.snap.vg(vg); r != nil {
		extent = r.ExtentSize
	}
	tags, err := a.createTags()
	if err != nil {
		a.fail(fmt.Sprintf("Could not create thin pool %s/%s", vg, name), err)
		return false
	}
	size, _ := a.bytes("size")
	args := []string{"--type", "thin-pool", "--size", fmt.Sprintf("%db", lvBytes(size, extent))}
	if n, ok := a.bytes("metadata_size"); ok {
		args = append(args, "--poolmetadatasize", fmt.Sprintf("%db", metadataBytes(n, extent)))
	}
	if n, ok := a.bytes("chunk_size"); ok {
		args = append(args, "--chunksize", fmt.Sprintf("%db", n))
	}
	if d := a.str("discards"); d != "" {
		args = append(args, "--discards", d)
	}
	args = append(append(args, tagArgs(tags, nil)...), "--name", name, vg)
	if err := a.run(ctx, lvmCmd("lvcreate", args...)); err != nil {
		a.fail(fmt.Sprintf("Could not create thin pool %s/%s", vg, name), err)
		return false
	}
	// lvcreate refuses --errorwhenfull for thin pools ("Option
	// --errorwhenfull is unsupported with thin pools"): set it after. A
	// new pool queues when full, so this is needed only for "error". If it
	// fails the pool is whole but queues, which the state returned (read
	// back) shows and the next apply corrects.
	if ewf := a.req.Planned.GetAttr("error_when_full"); ewf.IsNull() || ewf.True() {
		if err := a.run(ctx, lvmCmd("lvchange", "--errorwhenfull", "y", vg+"/"+name)); err != nil {
			a.fail(fmt.Sprintf("Created thin pool %s/%s but could not set error_when_full", vg, name), err)
		}
	}
	return true
}

func (a *applier) updatePool(ctx context.Context, vg, name string) {
	id := vg + "/" + name
	lv := a.snap.lv(vg, name)
	if lv == nil {
		a.fail(fmt.Sprintf("Thin pool %s is gone", id), errors.New("it was removed since the plan was made; plan again"))
		return
	}
	if !a.checkOwned(lv.Tags, id) {
		return
	}
	extent := defaultExtentSize
	if r := a.snap.vg(vg); r != nil {
		extent = r.ExtentSize
	}
	type change struct {
		what string
		args []string
	}
	var steps []change
	step := func(what string, args ...string) { steps = append(steps, change{what, args}) }
	if n, ok := a.bytes("size"); ok && lvBytes(n, extent) > lv.Size {
		step("grow", "lvextend", "--size", fmt.Sprintf("%db", lvBytes(n, extent)), id)
	}
	if n, ok := a.bytes("metadata_size"); ok && metadataBytes(n, extent) > lv.MetadataSize {
		step("grow the metadata of", "lvextend", "--poolmetadatasize", fmt.Sprintf("%db", metadataBytes(n, extent)), id)
	}
	if d := a.str("discards"); d != "" && d != lv.Discards {
		step("change discards of", "lvchange", "--discards", d, id)
	}
	if ewf := a.req.Planned.GetAttr("error_when_full"); !ewf.IsNull() && ewf.True() != (lv.WhenFull == "error") {
		step("change error_when_full of", "lvchange", "--errorwhenfull", yesNo(ewf.True()), id)
	}
	if add, del := userTagChange(lv.Tags, stringsOf(a.req.Planned.GetAttr("tags"))); len(add)+len(del) > 0 {
		step("change the tags of", append(append([]string{"lvchange"}, tagArgs(add, del)...), id)...)
	}
	for _, s := range steps {
		if err := a.run(ctx, lvmCmd(s.args[0], s.args[1:]...)); err != nil {
			a.fail(fmt.Sprintf("Could not %s thin pool %s", s.what, id), err)
			return
		}
	}
}

// deleteLV removes a thin pool (pool true) or a thin volume after checking
// in the run's view that it is this instance's (same mark, same UUID as
// planned) and, for a pool, that it is empty: the volumes this apply
// deleted first are gone from the view. It deactivates the LV first, so
// that lvremove needs no --yes: lvremove still asks before removing a pool
// that has volumes (made since the plan), and the empty answer is "no"; a
// mounted volume cannot be deactivated. It reports whether the LV is gone.
func (a *applier) deleteLV(ctx context.Context, vg, name string, pool bool) bool {
	id := vg + "/" + name
	lv := a.snap.lv(vg, name)
	if lv == nil {
		return true // already gone
	}
	if !a.checkOwned(lv.Tags, id) {
		return false
	}
	if a.req.Prior.Type().HasAttribute("uuid") {
		if uuid, ok := stringOf(a.req.Prior.GetAttr("uuid")); ok && uuid != lv.UUID {
			a.fail(fmt.Sprintf("%s is not the volume that was planned for deletion", id),
				fmt.Errorf("its UUID is %s, the plan was made for %s; plan again", lv.UUID, uuid))
			return false
		}
	}
	if pool {
		inside := a.snap.lvsIn(vg, name)
		var desc []string
		for _, l := range inside {
			if !parseMarks(l.Tags).CacheSnapshot {
				desc = append(desc, describeLV(l))
			}
		}
		if len(desc) > 0 {
			a.diags = append(a.diags, blockedDiag(a.req.Addr, id, "thin pool", "delete", desc))
			return false
		}
		if !a.deleteCacheSnapshots(ctx, vg, cacheSnapshots(inside)) {
			return false
		}
	}
	if err := a.run(ctx, lvmCmd("lvchange", "--activate", "n", id)); err != nil {
		a.fail(fmt.Sprintf("Could not deactivate %s before removing it (is it mounted or in use?)", id), err)
		return false
	}
	if err := a.run(ctx, lvmCmd("lvremove", id)); err != nil {
		a.fail(fmt.Sprintf("Could not remove %s", id), err)
		return false
	}
	return true
}

// deleteCacheSnapshots removes the cache agent's snapshots in a pool that
// is being deleted (the plan said so, and deleting the pool needed
// -allow-data-loss). A mounted one cannot be deactivated, and stops the
// deletion: its machine or the agent still uses it.
func (a *applier) deleteCacheSnapshots(ctx context.Context, vg string, snaps []*lvRow) bool {
	for _, lv := range snaps {
		id := vg + "/" + lv.Name
		if err := a.run(ctx, lvmCmd("lvchange", "--activate", "n", id)); err != nil {
			a.fail(fmt.Sprintf("Could not deactivate cache snapshot %s before removing it (is it mounted in a machine?)", id), err)
			return false
		}
		if err := a.run(ctx, lvmCmd("lvremove", id)); err != nil {
			a.fail(fmt.Sprintf("Could not remove cache snapshot %s", id), err)
			return false
		}
		a.p.updateView(func(s *snapshot) *snapshot { return s.withLV(vg, lv.Name, nil) })
	}
	return true
}
