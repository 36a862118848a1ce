package lvm

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// identity is the ID a desired instance's object would have on the host,
// e.g. "vg0" or "vg0/cache"; ok is false while the config leaves it unknown.
func identity(addr schema.Address, cfg cty.Value) (vg, lv string, ok bool) {
	switch addr.Type {
	case typeVG:
		vg, ok = knownString(cfg, "name")
		return vg, "", ok
	case typePool:
		vg, ok1 := knownString(cfg, "volume_group")
		lv, ok2 := knownString(cfg, "name")
		return vg, lv, ok1 && ok2
	case typeVolume:
		pool, ok1 := knownString(cfg, "thin_pool")
		lv, ok2 := knownString(cfg, "name")
		vg, _, err := splitPoolID(pool)
		return vg, lv, ok1 && ok2 && err == nil
	}
	return "", "", false
}

// unmarked reports the objects that desired instances name but that do not
// carry their mark: the planner refuses to touch them.
func (b *builder) unmarked(owner map[string]schema.Address) []providers.Object {
	var objs []providers.Object
	for _, inst := range b.desired {
		vgName, lvName, ok := identity(inst.Addr, inst.Config)
		if !ok {
			continue
		}
		id := vgName
		if lvName != "" {
			id += "/" + lvName
		}
		if a, marked := owner[id]; marked && a == inst.Addr {
			continue // reported as managed
		} else if marked {
			b.diags = append(b.diags, warnDiag("Object marked with another address",
				fmt.Sprintf("%s is marked as rigplan's %s, but the configuration now names it %s. rigplan does not move objects between addresses; "+
					"if this is a rename, retag it: %s", id, a, inst.Addr, retagCommand(inst.Addr, a, id))))
		}
		var state cty.Value
		switch inst.Addr.Type {
		case typeVG:
			vg := b.snap.vg(vgName)
			if vg == nil {
				continue
			}
			state = b.vgState(vg, inst.Config)
		default:
			lv := b.snap.lv(vgName, lvName)
			if lv == nil {
				continue
			}
			state = b.lvState(lv, inst.Addr.Type, inst.Config)
		}
		objs = append(objs, providers.Object{Addr: inst.Addr, State: state, Managed: false, ID: id})
	}
	return objs
}

// retagCommand is the LVM command that moves an object's mark from one
// address to another.
func retagCommand(to, from schema.Address, id string) string {
	cmd := "lvchange"
	if to.Type == typeVG {
		cmd = "vgchange"
	}
	oldTag, _ := addrTag(from)
	newTag, err := addrTag(to)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s --deltag '%s' --addtag '%s' %s", cmd, oldTag, newTag, id)
}

// blockers lists the LVs in a VG (or in one of its pools) that deleting
// the container would destroy although the plan does not delete them
// (deleted says which the plan deletes).
func (s *snapshot) blockers(vg, pool string, deleted func(marks) bool) []string {
	var out []string
	for _, lv := range s.lvsIn(vg, pool) {
		if m := parseMarks(lv.Tags); !deleted(m) {
			out = append(out, describeLV(lv))
		}
	}
	return out
}

// describeLV names an LV for an operator: "vg0/scratch (linear, not
// managed by rigplan)".
func describeLV(lv *lvRow) string {
	kind := lv.Attr.Describe()
	if lv.Attr.Type == '-' {
		kind = lv.Segtype
	}
	if m := parseMarks(lv.Tags); m.owns() {
		return fmt.Sprintf("%s (%s, %s)", lv.ID(), kind, m.Addr)
	}
	return fmt.Sprintf("%s (%s, not managed by rigplan)", lv.ID(), kind)
}

// blockedDiag refuses to delete or replace (verb) a VG or pool that
// holds the blockers.
func blockedDiag(addr schema.Address, id, kind, verb string, blockers []string) *hcl.Diagnostic {
	what := "Move or remove these volumes first (lvremove VG/LV, after saving what you need), or keep " + addr.String() + " in the configuration."
	if verb == "replace" {
		what = "Change the configuration so that " + addr.String() + " can be updated in place, or move or remove these volumes first."
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Cannot %s %s %s: it still holds logical volumes", verb, kind, id),
		Detail: fmt.Sprintf("The plan would %s %s (%s), which would destroy:\n  %s\n%s",
			verb, addr, id, strings.Join(blockers, "\n  "), what),
	}
}
