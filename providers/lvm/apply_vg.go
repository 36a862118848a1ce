package lvm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rigplan/rigplan/providers"
)

func (a *applier) applyVG(ctx context.Context) *providers.ApplyResponse {
	name := a.str("name")
	switch a.req.Action {
	case providers.Create:
		if !a.createVG(ctx, name) {
			return a.respondGone(name, "")
		}
	case providers.Update:
		a.updateVG(ctx, name)
	case providers.Delete:
		if a.deleteVG(ctx, name) {
			return a.respondGone(name, "")
		}
	}
	return a.respondVG(ctx, name)
}

// preparePVs resolves the devices (LVM only knows device nodes, not links
// outside /dev) and runs pvcreate on those that are not PVs in the run's
// view. It returns the resolved paths and those it initialised. pvcreate
// gets no --yes: should a device have gained a signature since the plan,
// pvcreate's question is answered "no" and it stops; should it have become
// a PV of another group, pvcreate or vgcreate/vgextend refuse it.
func (a *applier) preparePVs(ctx context.Context, devs []string, vg string) (resolved, created []string, err error) {
	for _, dev := range devs {
		n, path, err := a.p.host.device(dev)
		if err != nil {
			return resolved, created, fmt.Errorf("device %s for %s: %w", dev, vg, err)
		}
		resolved = append(resolved, path)
		if pv := a.snap.pvByDev(n); pv != nil {
			if pv.VG != "" && pv.VG != vg {
				return resolved, created, fmt.Errorf("device %s is a physical volume of volume group %s; plan again", dev, pv.VG)
			}
			continue
		}
		a.p.forgetSignatures(path)
		if err := a.run(ctx, lvmCmd("pvcreate", path)); err != nil {
			return resolved, created, err
		}
		created = append(created, path)
	}
	return resolved, created, nil
}

// undoPVs removes the PV labels preparePVs wrote, so that a failed create
// leaves the devices as they were.
func (a *applier) undoPVs(ctx context.Context, devs []string) error {
	if len(devs) == 0 {
		return nil
	}
	return a.run(ctx, lvmCmd("pvremove", devs...))
}

// createVG makes the group. It reports whether the group may exist: false
// when vgcreate never succeeded.
func (a *applier) createVG(ctx context.Context, name string) bool {
	devs := stringsOf(a.req.Planned.GetAttr("devices"))
	resolved, created, err := a.preparePVs(ctx, devs, name)
	if err == nil {
		err = a.vgcreate(ctx, name, resolved)
	}
	if err != nil {
		if undo := a.undoPVs(ctx, created); undo != nil {
			err = errors.Join(err, fmt.Errorf("removing the physical volumes made for it failed too; remove them by hand (pvremove %s): %w", strings.Join(created, " "), undo))
		}
		a.fail(fmt.Sprintf("Could not create volume group %s", name), err)
		return false
	}
	return true
}

func (a *applier) vgcreate(ctx context.Context, name string, devs []string) error {
	tags, err := a.createTags()
	if err != nil {
		return err
	}
	args := tagArgs(tags, nil)
	if n, ok := a.bytes("extent_size"); ok {
		args = append(args, "--physicalextentsize", fmt.Sprintf("%db", n))
	}
	args = append(append(args, name), devs...)
	return a.run(ctx, lvmCmd("vgcreate", args...))
}

func (a *applier) updateVG(ctx context.Context, name string) {
	vg := a.snap.vg(name)
	if vg == nil {
		a.fail(fmt.Sprintf("Volume group %s is gone", name), errors.New("it was removed since the plan was made; plan again"))
		return
	}
	if !a.checkOwned(vg.Tags, name) {
		return
	}
	if add, del := userTagChange(vg.Tags, stringsOf(a.req.Planned.GetAttr("tags"))); len(add)+len(del) > 0 {
		if err := a.run(ctx, lvmCmd("vgchange", append(tagArgs(add, del), name)...)); err != nil {
			a.fail(fmt.Sprintf("Could not change the tags of volume group %s", name), err)
			return
		}
	}
	have := make([]string, 0, len(a.snap.pvsOf(name)))
	for _, pv := range a.snap.pvsOf(name) {
		have = append(have, pv.Name)
	}
	added, removed, _ := diffDevices(a.p.host, stringsOf(a.req.Planned.GetAttr("devices")), have)
	if len(added) > 0 {
		resolved, created, err := a.preparePVs(ctx, added, name)
		if err == nil {
			err = a.run(ctx, lvmCmd("vgextend", append([]string{name}, resolved...)...))
		}
		if err != nil {
			if undo := a.undoPVs(ctx, created); undo != nil {
				err = errors.Join(err, undo)
			}
			a.fail(fmt.Sprintf("Could not add %s to volume group %s", strings.Join(added, ", "), name), err)
			return
		}
	}
	for _, dev := range removed {
		// vgreduce refuses a PV with allocated extents by itself; the
		// plan already said so in words.
		if err := a.run(ctx, lvmCmd("vgreduce", name, dev)); err != nil {
			a.fail(fmt.Sprintf("Could not remove %s from volume group %s", dev, name), err)
			return
		}
		if _, path, err := a.p.host.device(dev); err == nil {
			a.p.forgetSignatures(path)
		}
		if err := a.run(ctx, lvmCmd("pvremove", dev)); err != nil {
			a.fail(fmt.Sprintf("Removed %s from volume group %s but could not wipe its PV label", dev, name), err)
			return
		}
	}
}

// deleteVG removes an empty volume group and the PV labels of its
// devices. It reports whether the group is gone.
func (a *applier) deleteVG(ctx context.Context, name string) bool {
	vg := a.snap.vg(name)
	if vg == nil {
		return true // already gone
	}
	if !a.checkOwned(vg.Tags, name) {
		return false
	}
	if lvs := a.snap.lvsIn(name, ""); len(lvs) > 0 {
		desc := make([]string, len(lvs))
		for i, lv := range lvs {
			desc[i] = describeLV(lv)
		}
		a.diags = append(a.diags, blockedDiag(a.req.Addr, name, "volume group", "delete", desc))
		return false
	}
	var devs []string
	for _, pv := range a.snap.pvsOf(name) {
		devs = append(devs, pv.Name)
	}
	// No --yes: vgremove asks before removing a group that still has LVs
	// (made since the plan), and the empty answer is "no".
	if err := a.run(ctx, lvmCmd("vgremove", name)); err != nil {
		a.fail(fmt.Sprintf("Could not remove volume group %s", name), err)
		return false
	}
	a.p.forgetSignatures(devs...)
	if len(devs) > 0 {
		if err := a.run(ctx, lvmCmd("pvremove", devs...)); err != nil {
			a.fail(fmt.Sprintf("Removed volume group %s but could not wipe the PV labels of %s", name, strings.Join(devs, " ")), err)
		}
	}
	return true
}
