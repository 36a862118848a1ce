package lvm

import (
	"context"
	"fmt"
	"sync"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/schema"
)

// snapshot is LVM's state as one lvs, one vgs and one pvs call saw it.
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
