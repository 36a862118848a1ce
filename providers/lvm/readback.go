package lvm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rigplan/rigplan/internal/sysexec"
)

// Apply reads back only the object it changed, with one report call
// narrowed to it, and parses the answer with the parsers Refresh uses.
// LVM reads a group's metadata either way, but lvs VG/LV queries the
// kernel for one LV rather than for every LV on the host, which is what
// makes the full report slow on a host with thousands of them.

// readLV reads one LV with `lvs VG/LV`. It returns nil without an error
// when LVM says the LV or its group does not exist.
func (p *Provider) readLV(ctx context.Context, vg, name string) (*lvRow, error) {
	cmd := reportCmd("lvs", lvFields, vg+"/"+name)
	cmd.Timeout = p.opts.ReportTimeout
	res, err := p.run.Run(ctx, cmd)
	if notFound(err, fmt.Sprintf("Failed to find logical volume %q", vg+"/"+name), fmt.Sprintf("Volume group %q not found", vg)) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	lvs, err := parseLVs(res.Stdout)
	if err != nil {
		return nil, err
	}
	for i := range lvs {
		if lvs[i].VG == vg && lvs[i].Name == name {
			return &lvs[i], nil
		}
	}
	return nil, nil
}

// readVG reads one group and its PVs with a single `vgs VG` call that
// also asks for the PV fields. It returns a nil row without an error when
// LVM says the group does not exist.
func (p *Provider) readVG(ctx context.Context, name string) (*vgRow, []pvRow, error) {
	cmd := reportCmd("vgs", vgPVFields, name)
	cmd.Timeout = p.opts.ReportTimeout
	res, err := p.run.Run(ctx, cmd)
	if notFound(err, fmt.Sprintf("Volume group %q not found", name)) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	vgs, pvs, err := parseVGsWithPVs(res.Stdout)
	if err != nil {
		return nil, nil, err
	}
	for i := range vgs {
		if vgs[i].Name == name {
			return &vgs[i], pvs, nil
		}
	}
	return nil, nil, nil
}

// notFound reports LVM's answer for an object that does not exist: exit
// status 5 with one of the given messages on stderr (LVM runs in the C
// locale, see sysexec). Any other failure is a real error.
func notFound(err error, messages ...string) bool {
	var se *sysexec.Error
	if !errors.As(err, &se) || se.ExitCode != 5 {
		return false
	}
	for _, m := range messages {
		if strings.Contains(se.Stderr, m) {
			return true
		}
	}
	return false
}
