package lvm

import (
	"context"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
)

// planAgainst refreshes the captured host with the captured config, then
// plans instance i with attrs changed.
func planAgainst(t *testing.T, i int, change map[string]cty.Value) (*providers.PlanResponse, cty.Value) {
	t.Helper()
	p, _ := newCaptured(t)
	desired := capturedDesired(t, p)
	resp := p.Refresh(context.Background(), &providers.RefreshRequest{Desired: desired})
	prior := objectsByAddr(resp)[desired[i].Addr.String()].State
	cfg := desired[i].Config.AsValueMap()
	for k, v := range change {
		cfg[k] = v
	}
	return p.Plan(context.Background(), &providers.PlanRequest{Addr: desired[i].Addr, Config: cty.ObjectVal(cfg), Prior: prior}), prior
}

func TestPlanAppliedConfigHasNoDiff(t *testing.T) {
	for i, name := range []string{"volume_group.main", "thin_pool.cache", "volume.default"} {
		resp, prior := planAgainst(t, i, nil)
		if resp.Diagnostics.HasErrors() || len(resp.RequiresReplace) > 0 || !resp.Planned.RawEquals(prior) {
			t.Errorf("%s: diags %v, replace %v\nplanned %#v\nprior   %#v", name, resp.Diagnostics, resp.RequiresReplace, resp.Planned, prior)
		}
	}
}

func TestPlanSizesAfterRounding(t *testing.T) {
	tests := []struct {
		name    string
		i       int
		attr    string
		value   string
		replace bool
		same    bool
	}{
		{"pool size rounding to the same extents", 1, "size", "1004M", false, true},
		{"pool size in decimal units, same extents", 1, "size", "1052770304B", false, true},
		{"pool grows", 1, "size", "2G", false, false},
		{"pool shrinks", 1, "size", "900M", true, false},
		{"metadata rounds up to the same extent", 1, "metadata_size", "3M", false, true},
		{"metadata grows", 1, "metadata_size", "16M", false, false},
		{"metadata shrinks below LVM's minimum", 1, "metadata_size", "2M", false, true},
		{"chunk size spelled in bytes", 1, "chunk_size", "65536B", false, true},
		{"chunk size changes", 1, "chunk_size", "128K", true, false},
		{"volume same size", 2, "size", "300M", false, true},
		{"volume grows", 2, "size", "400M", false, false},
		{"volume shrinks", 2, "size", "296M", true, false},
		{"mode spelled with a leading zero", 2, "mode", "0750", false, true},
		{"extent size spelled in K", 0, "extent_size", "4096K", false, true},
		{"extent size changes", 0, "extent_size", "8M", true, false},
	}
	for _, tt := range tests {
		resp, prior := planAgainst(t, tt.i, map[string]cty.Value{tt.attr: cty.StringVal(tt.value)})
		// The captured pool and group hold volumes, so every replacement
		// is also refused; the refusal is tested on its own below.
		blocked := tt.replace && tt.i < 2
		if resp.Diagnostics.HasErrors() != blocked || blocked && !strings.Contains(resp.Diagnostics.Error(), "Cannot replace") {
			t.Errorf("%s: %v", tt.name, resp.Diagnostics)
			continue
		}
		if got := len(resp.RequiresReplace) > 0; got != tt.replace {
			t.Errorf("%s: RequiresReplace = %v", tt.name, resp.RequiresReplace)
		}
		if got := resp.Planned.RawEquals(prior); got != tt.same {
			t.Errorf("%s: planned == prior is %v\nplanned %#v\nprior   %#v", tt.name, got, resp.Planned, prior)
		}
	}
}

func TestPlanKnowsIDsAtPlanTime(t *testing.T) {
	p, _ := newCaptured(t)
	addr := mustAddr(t, "volume.new")
	cfg := configOf(t, p, typeVolume, map[string]cty.Value{
		"thin_pool": cty.StringVal("vg0/cache"), "name": cty.StringVal("new"), "size": cty.StringVal("1G"), "filesystem": cty.StringVal("ext4"),
	})
	resp := p.Plan(context.Background(), &providers.PlanRequest{Addr: addr, Config: cfg, Prior: cty.NullVal(p.schemas[typeVolume].ImpliedType())})
	if resp.Planned.GetAttr("id").AsString() != "vg0/new" || resp.Planned.GetAttr("path").AsString() != "/dev/vg0/new" || resp.Planned.GetAttr("uuid").IsKnown() {
		t.Errorf("planned = %#v", resp.Planned)
	}
	pool := configOf(t, p, typePool, map[string]cty.Value{"volume_group": cty.StringVal("vg9"), "name": cty.StringVal("p"), "size": cty.StringVal("1G")})
	resp = p.Plan(context.Background(), &providers.PlanRequest{Addr: mustAddr(t, "thin_pool.p"), Config: pool, Prior: cty.NullVal(p.schemas[typePool].ImpliedType())})
	if resp.Planned.GetAttr("id").AsString() != "vg9/p" || resp.Planned.GetAttr("metadata_size").IsKnown() {
		t.Errorf("planned pool = %#v", resp.Planned)
	}
}

func TestPlanDeviceChecks(t *testing.T) {
	tests := []struct {
		name    string
		devices []string
		wantErr string
	}{
		{"add an unused PV", []string{"/dev/ubda", "/dev/ubdb", "/dev/ubdd"}, ""},
		{"add a disk holding ext4", []string{"/dev/ubda", "/dev/ubdb", "/dev/disk/by-id/disk-e"}, "wipefs --all /dev/disk/by-id/disk-e"},
		{"add a PV of another group", []string{"/dev/ubda", "/dev/ubdb", "/dev/ubdc"}, "already in volume group other"},
		{"add a missing disk", []string{"/dev/ubda", "/dev/ubdb", "/dev/disk/by-id/gone"}, "/dev/disk/by-id/gone does not exist"},
		{"remove a PV with extents", []string{"/dev/ubda"}, "pvmove /dev/ubdb"},
	}
	for _, tt := range tests {
		resp, _ := planAgainst(t, 0, map[string]cty.Value{"devices": strSet(tt.devices...)})
		if tt.wantErr == "" {
			if resp.Diagnostics.HasErrors() || resp.Planned.GetAttr("size").IsKnown() {
				t.Errorf("%s: %v, planned size %#v (want unknown)", tt.name, resp.Diagnostics, resp.Planned.GetAttr("size"))
			}
			continue
		}
		if !resp.Diagnostics.HasErrors() || !strings.Contains(resp.Diagnostics.Error(), tt.wantErr) {
			t.Errorf("%s: %v, want an error mentioning %q", tt.name, resp.Diagnostics, tt.wantErr)
		}
	}
}

func TestPlanNewGroupOnUsedDevice(t *testing.T) {
	p, _ := newCaptured(t)
	p.Refresh(context.Background(), &providers.RefreshRequest{})
	cfg := configOf(t, p, typeVG, map[string]cty.Value{"name": cty.StringVal("fresh"), "devices": strSet("/dev/disk/by-id/disk-a")})
	resp := p.Plan(context.Background(), &providers.PlanRequest{Addr: mustAddr(t, "volume_group.fresh"), Config: cfg, Prior: cty.NullVal(p.schemas[typeVG].ImpliedType())})
	if !strings.Contains(resp.Diagnostics.Error(), "already in volume group vg0") || !strings.Contains(resp.Diagnostics.Error(), "vgreduce vg0 /dev/ubda") {
		t.Errorf("diags = %v", resp.Diagnostics)
	}
}

func TestPlanRefusesDiscardsIgnoreOnActivePool(t *testing.T) {
	resp, _ := planAgainst(t, 1, map[string]cty.Value{"discards": cty.StringVal("ignore")})
	if !strings.Contains(resp.Diagnostics.Error(), "lvchange -an vg0/cache") {
		t.Errorf("diags = %v", resp.Diagnostics)
	}
	resp, _ = planAgainst(t, 1, map[string]cty.Value{"discards": cty.StringVal("nopassdown")})
	if resp.Diagnostics.HasErrors() {
		t.Errorf("passdown → nopassdown refused: %v", resp.Diagnostics)
	}
}

func TestPlanRefusesReplacingPoolWithVolumes(t *testing.T) {
	resp, _ := planAgainst(t, 1, map[string]cty.Value{"size": cty.StringVal("500M")})
	msg := resp.Diagnostics.Error()
	for _, want := range []string{"vg0/default (thin volume, volume.default)", "vg0/handmade", "vg0/snap"} {
		if !strings.Contains(msg, want) {
			t.Errorf("replacement error does not list %q: %s", want, msg)
		}
	}
	p, _ := newCaptured(t)
	desired := capturedDesired(t, p)
	p.Refresh(context.Background(), &providers.RefreshRequest{Desired: desired})
	del := p.Plan(context.Background(), &providers.PlanRequest{Addr: desired[1].Addr, Config: cty.NullVal(p.schemas[typePool].ImpliedType()),
		Prior: objectsByAddr(p.Refresh(context.Background(), &providers.RefreshRequest{Desired: desired}))["thin_pool.cache"].State})
	if !del.Diagnostics.HasErrors() || !del.Planned.IsNull() {
		t.Errorf("planning the pool's deletion: %v, planned %#v", del.Diagnostics, del.Planned)
	}
	// Deleting the pool deletes rigplan's volumes in it first; only the
	// others block it.
	if msg := del.Diagnostics.Error(); !strings.Contains(msg, "vg0/handmade") || strings.Contains(msg, "vg0/default") {
		t.Errorf("deletion blockers: %s", msg)
	}
}

func TestPlanRefusesAddressTooLongForATag(t *testing.T) {
	p, _ := newCaptured(t)
	addr := mustAddr(t, `volume.caches["`+strings.Repeat("k", 120)+`"]`)
	cfg := configOf(t, p, typeVolume, map[string]cty.Value{
		"thin_pool": cty.StringVal("vg0/cache"), "name": cty.StringVal("k"), "size": cty.StringVal("1G"), "filesystem": cty.StringVal("ext4"),
	})
	resp := p.Plan(context.Background(), &providers.PlanRequest{Addr: addr, Config: cfg, Prior: cty.NullVal(p.schemas[typeVolume].ImpliedType())})
	if !strings.Contains(resp.Diagnostics.Error(), "shorter for_each key") {
		t.Errorf("diags = %v", resp.Diagnostics)
	}
}

// A volume left half-made by an apply that stopped (its unfinished mark
// still on) holds nothing: without a filesystem it is planned as an
// update that makes it again, not as a replacement the data guard would
// refuse; with its filesystem, its owner is set.
func TestPlanUnfinishedVolume(t *testing.T) {
	for _, fs := range []string{"", "xfs"} {
		p, run := newCaptured(t)
		run.edit = func(name string, out []byte) []byte {
			if name != "lvs" {
				return out
			}
			return []byte(strings.Replace(string(out), "rigplan:mode=0750,rigplan:owner=1000:1000", "rigplan:unfinished", 1))
		}
		host := capturedHost()
		host.fs["/dev/vg0/default"] = fs
		p.host = host
		desired := capturedDesired(t, p)
		prior := objectsByAddr(p.Refresh(context.Background(), &providers.RefreshRequest{Desired: desired}))["volume.default"].State
		resp := p.Plan(context.Background(), &providers.PlanRequest{Addr: desired[2].Addr, Config: desired[2].Config, Prior: prior})
		if resp.Diagnostics.HasErrors() || len(resp.RequiresReplace) > 0 {
			t.Errorf("filesystem %q: %v, replace %v", fs, resp.Diagnostics, resp.RequiresReplace)
		}
		if !prior.GetAttr("uid").IsNull() || resp.Planned.GetAttr("uid").AsBigFloat().String() != "1000" {
			t.Errorf("filesystem %q: uid %#v -> %#v, want the owner planned", fs, prior.GetAttr("uid"), resp.Planned.GetAttr("uid"))
		}
		want, remade := "Apply finishes it", false
		if fs == "" {
			want, remade = "holds no data", true
		}
		if !strings.Contains(resp.Diagnostics.Error(), want) {
			t.Errorf("filesystem %q: diagnostics %v, want a warning saying %q", fs, resp.Diagnostics, want)
		}
		if uuid := resp.Planned.GetAttr("uuid"); uuid.IsKnown() == remade {
			t.Errorf("filesystem %q: planned uuid %#v", fs, uuid)
		}
	}
}
