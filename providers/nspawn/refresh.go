package nspawn

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/fsutil"
	"github.com/rigplan/rigplan/internal/systemd"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Refresh finds rigplan's machines by their marks (the root marks in
// /var/lib/rigplan/machines and the marked .nspawn files), reads their
// files back, and asks systemd about all of them in one `systemctl show`.
// It also checks the rules that span machines: two machines with one name
// or with overlapping user ranges.
func (p *Provider) Refresh(ctx context.Context, req *providers.RefreshRequest) *providers.RefreshResponse {
	desired, diags := p.desiredByName(req.Desired)
	names, err := p.markedNames()
	if err != nil {
		return &providers.RefreshResponse{Diagnostics: append(diags, errDiag("Could not read the machines' marks", err.Error())...)}
	}
	type found struct {
		addr schema.Address
		ps   paths
	}
	var managed []found
	var objs []providers.Object
	seen := map[string]bool{}
	for _, name := range names {
		seen[name] = true
		ps := pathsFor(name)
		addr, owner, err := p.owner(ps)
		if err != nil {
			diags = append(diags, warnf("Machine with an unusable mark", "%s: %v. rigplan leaves the machine alone; restore or remove its marks.", name, err))
			continue
		}
		inst, wanted := desired[name]
		switch {
		case owner:
			managed = append(managed, found{addr: addr, ps: ps})
			if wanted && inst.Addr != addr {
				diags = append(diags, errorf("Two machines with one name",
					"The machine %s is %s's, and %s wants the same name. Remove or rename one of the blocks and apply, then add the other.", name, addr, inst.Addr)...)
			}
		case wanted:
			objs = append(objs, providers.Object{Addr: inst.Addr, State: cty.NullVal(p.schema.ImpliedType()), ID: ps.dir})
		}
	}
	// A desired machine whose files exist without any mark of rigplan's.
	for _, name := range sortedKeys(desired) {
		if seen[name] {
			continue
		}
		ps := pathsFor(name)
		for _, f := range []string{ps.dir, ps.settings, ps.dropIn} {
			if ok, _ := fsutil.Exists(p.onHost(f)); ok {
				objs = append(objs, providers.Object{Addr: desired[name].Addr, State: cty.NullVal(p.schema.ImpliedType()), ID: f})
				break
			}
		}
	}
	if len(managed) == 0 {
		return &providers.RefreshResponse{Objects: objs, Diagnostics: diags}
	}
	units := make([]string, len(managed))
	for i, f := range managed {
		units[i] = f.ps.unit
	}
	status, err := p.sd.Show(ctx, units...)
	if err != nil {
		return &providers.RefreshResponse{Diagnostics: append(diags, errDiag("Could not read the machines' service state",
			fmt.Sprintf("%v\nMachines run as systemd-nspawn@NAME.service; plan and apply need a host booted with systemd.", err))...)}
	}
	for i, f := range managed {
		st, d := p.readState(f.ps, status[i])
		diags = append(diags, d...)
		objs = append(objs, providers.Object{Addr: f.addr, State: st, Managed: true, ID: f.ps.unit})
	}
	return &providers.RefreshResponse{Objects: objs, Diagnostics: diags}
}

// systemd-nspawn's private_users = "pick" chooses a 65536-aligned base
// between these (UID_SHIFT_PICK_MIN and _MAX in its source).
const pickMin, pickMax = 0x00080000, 0x6FFF0000

// desiredByName indexes the wanted machines by name, and refuses two with
// one name or with overlapping private user ranges.
func (p *Provider) desiredByName(insts []providers.Instance) (map[string]providers.Instance, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	byName := map[string]providers.Instance{}
	type ranged struct {
		addr schema.Address
		r    userRange
	}
	var ranges []ranged
	var picked []schema.Address
	for _, inst := range insts {
		name := attrString(inst.Config, "name")
		if name == "" {
			continue
		}
		if other, dup := byName[name]; dup {
			diags = append(diags, errorf("Two machines with one name",
				"%s and %s would both be the machine %q. Give one of them another name.", other.Addr, inst.Addr, name)...)
			continue
		}
		byName[name] = inst
		if r, ok := rangeOf(attrString(inst.Config, "private_users")); ok {
			ranges = append(ranges, ranged{inst.Addr, r})
		} else if attrString(inst.Config, "private_users") == "pick" {
			picked = append(picked, inst.Addr)
		}
	}
	for _, r := range ranges {
		if len(picked) > 0 && uint64(r.r.base)+uint64(r.r.count) > pickMin && uint64(r.r.base) < pickMax+0x10000 {
			diags = append(diags, warnf("Picked and fixed user ranges may collide",
				"%s picks its user range at boot, and %s's fixed range %s lies where systemd-nspawn picks from (0x%08X–0x%08X); nspawn does not know about a fixed range "+
					"of a machine that is not running, so the two may share host uids. Give %s a fixed range too.",
				picked[0], r.addr, r.r, pickMin, pickMax+0xFFFF, picked[0]))
		}
	}
	sort.Slice(ranges, func(i, j int) bool { return ranges[i].r.base < ranges[j].r.base })
	for i := 1; i < len(ranges); i++ {
		a, b := ranges[i-1], ranges[i]
		if uint64(a.r.base)+uint64(a.r.count) > uint64(b.r.base) {
			diags = append(diags, errorf("Overlapping user ranges",
				"%s (private_users = %q) and %s (private_users = %q) share host uids: root in one machine would own files of the other. "+
					"Give each machine its own range, e.g. bases 65536·k apart.", a.addr, a.r, b.addr, b.r)...)
		}
	}
	return byName, diags
}

// markedNames lists the machines that carry a mark of rigplan's: a root
// mark, or a marked .nspawn file.
func (p *Provider) markedNames() ([]string, error) {
	set := map[string]bool{}
	for _, d := range []struct{ dir, suffix string }{{markDir, ""}, {settingsDir, ".nspawn"}} {
		entries, err := os.ReadDir(p.onHost(d.dir))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			n := e.Name()
			if !e.Type().IsRegular() || strings.HasPrefix(n, ".") || !strings.HasSuffix(n, d.suffix) {
				continue
			}
			n = strings.TrimSuffix(n, d.suffix)
			if d.suffix != "" {
				b, err := fsutil.ReadFile(p.onHost(pathsFor(n).settings))
				if err != nil || !readMark(b).marked {
					continue
				}
			}
			set[n] = true
		}
	}
	return sortedKeys(set), nil
}

// owner reads the marks of a machine's root and files: the address they
// name, and whether they agree.
func (p *Provider) owner(ps paths) (schema.Address, bool, error) {
	var addr schema.Address
	have := false
	for _, f := range []string{ps.mark, ps.settings, ps.dropIn} {
		b, err := fsutil.ReadFile(p.onHost(f))
		if err != nil {
			return addr, false, err
		}
		if b == nil {
			continue
		}
		m := readMark(b)
		switch {
		case !m.marked:
			return addr, false, fmt.Errorf("%s has no mark of rigplan's", f)
		case m.addrErr != nil:
			return addr, false, fmt.Errorf("the mark of %s cannot be read: %v", f, m.addrErr)
		case have && m.addr != addr:
			return addr, false, fmt.Errorf("%s names %s, another file names %s", f, m.addr, addr)
		}
		addr, have = m.addr, true
	}
	if have && addr.Type != typeMachine {
		return addr, false, fmt.Errorf("its marks name %s, which is not a machine", addr)
	}
	return addr, have, nil
}

// readState builds one machine's state from its files, its root's mark
// and systemd's view of it.
func (p *Provider) readState(ps paths, st systemd.UnitStatus) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vals := map[string]cty.Value{}
	for name, ty := range p.schema.ImpliedType().AttributeTypes() {
		vals[name] = cty.NullVal(ty)
	}
	nsp, err1 := fsutil.ReadFile(p.onHost(ps.settings))
	drop, err2 := fsutil.ReadFile(p.onHost(ps.dropIn))
	markB, err3 := fsutil.ReadFile(p.onHost(ps.mark))
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			diags = append(diags, warnf("Machine file unreadable", "%s: %v. The next apply writes it again.", ps.name, err))
		}
	}
	if nsp != nil {
		for k, v := range settingsAttrs(parseSettings(nsp, drop)) {
			vals[k] = v
		}
	}
	if held, _ := fsutil.Exists(p.onHost(ps.hold)); held {
		// What systemd does: the hold's Restart=no overrides the drop-in.
		vals["restart"] = cty.StringVal("no")
		diags = append(diags, warnf("Machine held", "%s exists: an apply that waited for %s's job was stopped before it removed it, so systemd will not boot the machine again after its job. The next apply removes it.", ps.hold, ps.name))
	}
	if markB != nil {
		m, err := parseMark(markB)
		if err != nil {
			diags = append(diags, warnf("Machine root mark unreadable", "%s: %v. The next apply unpacks the root again.", ps.mark, err))
		}
		if ok, _ := fsutil.Exists(p.onHost(ps.dir)); ok && err == nil {
			vals["image"] = cty.StringVal(m.image)
			vals["image_digest"] = cty.StringVal(m.digest)
		}
		vals["nested_podman"] = cty.BoolVal(m.nestedPodman)
		if m.jobWait != "" {
			vals["job_wait"] = cty.StringVal(m.jobWait)
		}
	}
	vals["name"] = cty.StringVal(ps.name)
	vals["unit"] = cty.StringVal(ps.unit)
	vals["settings_file"] = cty.StringVal(ps.settings)
	vals["dropin_file"] = cty.StringVal(ps.dropIn)
	vals["directory"] = cty.StringVal(ps.dir)
	vals["active_state"] = cty.StringVal(st.ActiveState)
	vals["unit_file_state"] = cty.StringVal(st.UnitFileState)
	vals["enabled"] = cty.BoolVal(strings.HasPrefix(st.UnitFileState, "enabled"))
	vals["running"] = cty.BoolVal(st.Active())
	busy := false
	if st.Active() {
		pid, err := p.busyPID(ps.unit)
		if err != nil {
			diags = append(diags, warnf("Cannot tell whether the machine runs a job", "%s: %v", ps.name, err))
		}
		busy = pid != 0
	}
	vals["busy"] = cty.BoolVal(busy)
	return cty.ObjectVal(vals), diags
}
