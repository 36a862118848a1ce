package lvm

import (
	"context"
	"fmt"
	"sync"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/schema"
)

// snapshot is LVM's state as one lvs, one vgs and one pvs call saw it,
// possibly updated since with what apply read back about the objects it
// changed (withLV, withVG). A snapshot is never changed once shared: an
// update makes a new one, so Plan and Apply read theirs without a lock.
type snapshot struct {
	lvs []lvRow
	vgs []vgRow
	pvs []pvRow
	// desired holds the addresses the configuration wants; nil when the
	// snapshot was not read by Refresh.
	desired map[schema.Address]bool
}

// lvmCmd is an LVM command that never prompts: LVM reads answers from
// stdin, which sysexec leaves empty, so any question is answered "no".
// That is the safety net behind every plan-time check: pvcreate on a disk
// with a filesystem, lvremove of a pool with volumes, vgremove of a group
// with LVs all stop instead of wiping data.
func lvmCmd(name string, args ...string) sysexec.Cmd {
	return sysexec.Cmd{Name: name, Args: args, Env: []string{"LVM_SUPPRESS_FD_WARNINGS=1"}}
}

// read runs the three report commands concurrently and parses them.
func (p *Provider) read(ctx context.Context) (*snapshot, error) {
	cmds := []sysexec.Cmd{
		reportCmd("lvs", lvFields),
		reportCmd("vgs", vgFields),
		reportCmd("pvs", pvFields),
	}
	outs := make([][]byte, len(cmds))
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	for i, c := range cmds {
		c.Timeout = p.opts.ReportTimeout
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.run.Run(ctx, c)
			outs[i], errs[i] = res.Stdout, err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			if sysexec.NotInstalled(err) {
				return nil, fmt.Errorf("%w\nInstall LVM's tools (Debian: apt-get install lvm2 thin-provisioning-tools)", err)
			}
			return nil, err
		}
	}
	snap := &snapshot{}
	var err error
	if snap.lvs, err = parseLVs(outs[0]); err != nil {
		return nil, err
	}
	if snap.vgs, err = parseVGs(outs[1]); err != nil {
		return nil, err
	}
	if snap.pvs, err = parsePVs(outs[2]); err != nil {
		return nil, err
	}
	return snap, nil
}

func (s *snapshot) vg(name string) *vgRow {
	for i := range s.vgs {
		if s.vgs[i].Name == name {
			return &s.vgs[i]
		}
	}
	return nil
}

func (s *snapshot) lv(vg, name string) *lvRow {
	for i := range s.lvs {
		if s.lvs[i].VG == vg && s.lvs[i].Name == name {
			return &s.lvs[i]
		}
	}
	return nil
}

// lvsIn lists the LVs of a VG; with pool set, only those in that pool.
func (s *snapshot) lvsIn(vg, pool string) []*lvRow {
	var out []*lvRow
	for i := range s.lvs {
		r := &s.lvs[i]
		if r.VG == vg && (pool == "" || r.Pool == pool) {
			out = append(out, r)
		}
	}
	return out
}

func (s *snapshot) pvsOf(vg string) []*pvRow {
	var out []*pvRow
	for i := range s.pvs {
		if s.pvs[i].VG == vg {
			out = append(out, &s.pvs[i])
		}
	}
	return out
}

// pvByDev finds the PV on a device number.
func (s *snapshot) pvByDev(d devNum) *pvRow {
	for i := range s.pvs {
		if s.pvs[i].Major == d.Major && s.pvs[i].Minor == d.Minor {
			return &s.pvs[i]
		}
	}
	return nil
}

// beingDeleted reports whether a managed object is absent from the
// configuration, so that the plan deletes it.
func (s *snapshot) beingDeleted(m marks) bool {
	return s.desired != nil && m.owns() && !s.desired[m.Addr]
}

// withLV returns a copy of s in which the LV vg/name is row, or is absent
// when row is nil.
func (s *snapshot) withLV(vg, name string, row *lvRow) *snapshot {
	n := *s
	n.lvs = make([]lvRow, 0, len(s.lvs)+1)
	for _, r := range s.lvs {
		if r.VG != vg || r.Name != name {
			n.lvs = append(n.lvs, r)
		}
	}
	if row != nil {
		n.lvs = append(n.lvs, *row)
	}
	return &n
}

// withVG returns a copy of s in which the group name is row with the PVs
// pvs, or is absent, with its PVs and LVs, when row is nil. PVs the group
// had before and no longer has are dropped: rigplan takes a device out of
// a group only to pvremove it.
func (s *snapshot) withVG(name string, row *vgRow, pvs []pvRow) *snapshot {
	n := *s
	n.vgs = make([]vgRow, 0, len(s.vgs)+1)
	for _, r := range s.vgs {
		if r.Name != name {
			n.vgs = append(n.vgs, r)
		}
	}
	now := map[devNum]bool{}
	for _, pv := range pvs {
		now[devNum{pv.Major, pv.Minor}] = true
	}
	n.pvs = make([]pvRow, 0, len(s.pvs)+len(pvs))
	for _, pv := range s.pvs {
		if pv.VG != name && !now[devNum{pv.Major, pv.Minor}] {
			n.pvs = append(n.pvs, pv)
		}
	}
	if row != nil {
		n.vgs = append(n.vgs, *row)
		n.pvs = append(n.pvs, pvs...)
	} else {
		n.lvs = make([]lvRow, 0, len(s.lvs))
		for _, r := range s.lvs {
			if r.VG != name {
				n.lvs = append(n.lvs, r)
			}
		}
	}
	return &n
}
