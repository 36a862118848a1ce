package lvm

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/providers"
)

// capturedDesired is a configuration matching the captured host, spelled
// differently from LVM where it may be.
func capturedDesired(t *testing.T, p *Provider) []providers.Instance {
	return []providers.Instance{
		{Addr: mustAddr(t, "volume_group.main"), Config: configOf(t, p, typeVG, map[string]cty.Value{
			"name": cty.StringVal("vg0"), "devices": strSet("/dev/disk/by-id/disk-a", "/dev/ubdb"), "tags": strSet("team:ci"),
		})},
		{Addr: mustAddr(t, "thin_pool.cache"), Config: configOf(t, p, typePool, map[string]cty.Value{
			"volume_group": cty.StringVal("vg0"), "name": cty.StringVal("cache"), "size": cty.StringVal("1001M"),
		})},
		{Addr: mustAddr(t, "volume.default"), Config: configOf(t, p, typeVolume, map[string]cty.Value{
			"thin_pool": cty.StringVal("vg0/cache"), "name": cty.StringVal("default"), "size": cty.StringVal("0.29296875G"),
			"filesystem": cty.StringVal("xfs"), "mkfs_options": cty.ListVal([]cty.Value{cty.StringVal("-m"), cty.StringVal("reflink=1")}),
			"uid": cty.NumberIntVal(1000), "gid": cty.NumberIntVal(1000), "mode": cty.StringVal("750"),
		})},
		{Addr: mustAddr(t, `volume.caches["node"]`), Config: configOf(t, p, typeVolume, map[string]cty.Value{
			"thin_pool": cty.StringVal("vg0/cache"), "name": cty.StringVal("node"), "size": cty.StringVal("1G"), "filesystem": cty.StringVal("btrfs"),
		})},
		{Addr: mustAddr(t, "volume.hand"), Config: configOf(t, p, typeVolume, map[string]cty.Value{
			"thin_pool": cty.StringVal("vg0/cache"), "name": cty.StringVal("handmade"), "size": cty.StringVal("300M"), "filesystem": cty.StringVal("ext4"),
		})},
		{Addr: mustAddr(t, "volume_group.other"), Config: configOf(t, p, typeVG, map[string]cty.Value{
			"name": cty.StringVal("other"), "devices": strSet("/dev/ubdc"),
		})},
	}
}

func refreshCaptured(t *testing.T, desired func(*Provider) []providers.Instance) (*Provider, *capturedRunner, *providers.RefreshResponse) {
	t.Helper()
	p, run := newCaptured(t)
	resp := p.Refresh(context.Background(), &providers.RefreshRequest{Desired: desired(p)})
	return p, run, resp
}

func objectsByAddr(resp *providers.RefreshResponse) map[string]providers.Object {
	out := map[string]providers.Object{}
	for _, o := range resp.Objects {
		out[o.Addr.String()] = o
	}
	return out
}

func TestRefreshCaptured(t *testing.T) {
	_, run, resp := refreshCaptured(t, func(p *Provider) []providers.Instance { return capturedDesired(t, p) })
	if resp.Diagnostics.HasErrors() {
		t.Fatal(resp.Diagnostics)
	}
	sort.Strings(run.ran)
	if len(run.ran) != 3 || !strings.HasPrefix(run.ran[0], "lvs --reportformat json") || !strings.HasPrefix(run.ran[1], "pvs ") || !strings.HasPrefix(run.ran[2], "vgs ") {
		t.Errorf("refresh ran %q, want exactly one lvs, pvs and vgs", run.ran)
	}
	objs := objectsByAddr(resp)
	managed := map[string]string{
		"volume_group.main": "vg0", "thin_pool.cache": "vg0/cache", "volume.default": "vg0/default", `volume.caches["node"]`: "vg0/node",
	}
	unmanaged := map[string]string{"volume.hand": "vg0/handmade", "volume_group.other": "other"}
	if len(objs) != len(managed)+len(unmanaged) {
		t.Errorf("got %d objects, want %d: %v", len(objs), len(managed)+len(unmanaged), objs)
	}
	for addr, id := range managed {
		if o, ok := objs[addr]; !ok || !o.Managed || o.ID != id {
			t.Errorf("%s: %+v, want managed %s", addr, o, id)
		}
	}
	for addr, id := range unmanaged {
		if o, ok := objs[addr]; !ok || o.Managed || o.ID != id {
			t.Errorf("%s: %+v, want unmanaged %s", addr, o, id)
		}
	}
	if d := objs["thin_pool.cache"].DependsOn; len(d) != 1 || d[0].String() != "volume_group.main" {
		t.Errorf("pool DependsOn = %v", d)
	}
	if d := objs["volume.default"].DependsOn; len(d) != 1 || d[0].String() != "thin_pool.cache" {
		t.Errorf("volume DependsOn = %v", d)
	}

	vg := objs["volume_group.main"].State
	if !vg.GetAttr("devices").RawEquals(strSet("/dev/disk/by-id/disk-a", "/dev/ubdb")) {
		t.Errorf("devices = %#v, want the config's spelling of ubda", vg.GetAttr("devices"))
	}
	if vg.GetAttr("size").AsString() != "6136M" || vg.GetAttr("extent_size").AsString() != "4M" || vg.GetAttr("uuid").AsString() != "P88eCe-n4JU-QZEW-K1Cp-RVCX-Dw1p-iigGUk" {
		t.Errorf("vg state = %#v", vg)
	}
	pool := objs["thin_pool.cache"].State
	if pool.GetAttr("size").AsString() != "1001M" || pool.GetAttr("metadata_size").AsString() != "4M" ||
		pool.GetAttr("chunk_size").AsString() != "64K" || pool.GetAttr("error_when_full").False() || pool.GetAttr("id").AsString() != "vg0/cache" {
		t.Errorf("pool state = %#v", pool)
	}
	def := objs["volume.default"].State
	if def.GetAttr("filesystem").AsString() != "xfs" || def.GetAttr("size").AsString() != "0.29296875G" || def.GetAttr("mode").AsString() != "750" ||
		def.GetAttr("path").AsString() != "/dev/vg0/default" || !def.GetAttr("uid").RawEquals(cty.NumberIntVal(1000)) {
		t.Errorf("default state = %#v", def)
	}
	if got := objs[`volume.caches["node"]`].State.GetAttr("size").AsString(); got != "512M" {
		t.Errorf("node size = %s, want the pre-grow 512M recorded in its grow-from tag", got)
	}
}

func TestRefreshEmptyHost(t *testing.T) {
	p, run := newCaptured(t)
	run.prefix = "empty-"
	resp := p.Refresh(context.Background(), &providers.RefreshRequest{Desired: capturedDesired(t, p)})
	if resp.Diagnostics.HasErrors() || len(resp.Objects) != 0 {
		t.Errorf("empty host: %v %v", resp.Objects, resp.Diagnostics)
	}
}

func TestRefreshWithoutConfigStillReportsManaged(t *testing.T) {
	_, _, resp := refreshCaptured(t, func(*Provider) []providers.Instance { return nil })
	objs := objectsByAddr(resp)
	for _, a := range []string{"volume_group.main", "thin_pool.cache", "volume.default", `volume.caches["node"]`} {
		if o, ok := objs[a]; !ok || !o.Managed {
			t.Errorf("%s not reported as managed", a)
		}
	}
	// Refresh only reads: whether the orphans may be deleted is Plan's
	// question (TestPlanDeleteOrphanPoolWithForeignVolumes).
	if resp.Diagnostics.HasErrors() {
		t.Fatalf("refresh without a config: %v", resp.Diagnostics)
	}
}

func TestPlanDeleteOrphanPoolWithForeignVolumes(t *testing.T) {
	p, _, resp := refreshCaptured(t, func(p *Provider) []providers.Instance {
		return capturedDesired(t, p)[:1] // only the volume group stays
	})
	pool := objectsByAddr(resp)["thin_pool.cache"]
	del := p.Plan(context.Background(), &providers.PlanRequest{Addr: pool.Addr, Config: cty.NullVal(p.schemas[typePool].ImpliedType()), Prior: pool.State})
	if !del.Diagnostics.HasErrors() {
		t.Fatal("no error for deleting a pool that holds unmanaged volumes")
	}
	msg := del.Diagnostics.Error()
	for _, want := range []string{"thin_pool.cache", "vg0/handmade (thin volume, not managed by rigplan)", "vg0/snap"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "vg0/default") {
		t.Errorf("error lists vg0/default, which is managed and deleted too:\n%s", msg)
	}
}

func TestRefreshWarnsAboutRenamedAddress(t *testing.T) {
	_, _, resp := refreshCaptured(t, func(p *Provider) []providers.Instance {
		d := capturedDesired(t, p)
		d[2].Addr = mustAddr(t, "volume.renamed")
		return d
	})
	objs := objectsByAddr(resp)
	if o := objs["volume.renamed"]; o.Managed || o.ID != "vg0/default" {
		t.Errorf("renamed: %+v", o)
	}
	if o := objs["volume.default"]; !o.Managed {
		t.Error("the marked object is no longer reported under its mark")
	}
	found := false
	for _, d := range resp.Diagnostics {
		found = found || strings.Contains(d.Detail, "--deltag 'rigplan:addr:volume.default' --addtag 'rigplan:addr:volume.renamed' vg0/default")
	}
	if !found {
		t.Errorf("no retag hint in %v", resp.Diagnostics)
	}
}

// editedRunner serves the captured reports with one text replacement.
type editedRunner struct {
	*capturedRunner
	file, old, new string
}

func (r *editedRunner) Run(ctx context.Context, c sysexec.Cmd) (sysexec.Result, error) {
	res, err := r.capturedRunner.Run(ctx, c)
	if c.Name+".json" == r.file {
		res.Stdout = []byte(strings.Replace(string(res.Stdout), r.old, r.new, 1))
	}
	return res, err
}

func TestRefreshLeavesBrokenMarksAlone(t *testing.T) {
	for _, tt := range []struct {
		file, old, new, addr, warning string
	}{
		{"lvs.json", `"lv_name":"scratch", "vg_name":"vg0", "lv_attr":"-wi-a-----", "lv_size":"104857600", "pool_lv":"", "origin":"", "lv_tags":""`,
			`"lv_name":"scratch", "vg_name":"vg0", "lv_attr":"-wi-a-----", "lv_size":"104857600", "pool_lv":"", "origin":"", "lv_tags":"rigplan:managed,rigplan:addr:volume.scratch"`,
			"volume.scratch", "neither a thin pool nor a thin volume"},
		{"vgs.json", "rigplan:addr:volume_group.main,", "", "volume_group.main", "no rigplan:addr:"},
		{"vgs.json", "rigplan:addr:volume_group.main", "rigplan:addr:volume.main", "volume.main", "not a volume_group"},
		{"lvs.json", "rigplan:addr:volume.default", "rigplan:addr:volume.default&zz", "volume.default", "cannot read"},
	} {
		run := &capturedRunner{t: t}
		p := New(&editedRunner{capturedRunner: run, file: tt.file, old: tt.old, new: tt.new}, Options{})
		p.host = capturedHost()
		resp := p.Refresh(context.Background(), &providers.RefreshRequest{Desired: capturedDesired(t, p)[:4]})
		if o, ok := objectsByAddr(resp)[tt.addr]; ok && o.Managed {
			t.Errorf("%s: reported as managed despite a broken mark", tt.addr)
		}
		found := false
		for _, d := range resp.Diagnostics {
			found = found || strings.Contains(d.Detail, tt.warning)
		}
		if !found {
			t.Errorf("%s: no warning mentioning %q in %v", tt.addr, tt.warning, resp.Diagnostics)
		}
	}
}
