package lvm

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/providers"
)

// readbackRunner answers apply's narrow reads with what LVM printed for
// them in capture.sh: stdout, and for a missing object stderr and the
// exit status too.
type readbackRunner struct {
	t *testing.T
	// files maps the command's last argument to the captured file's name
	// without its extension.
	files map[string]string
}

func (r *readbackRunner) Run(_ context.Context, c sysexec.Cmd) (sysexec.Result, error) {
	base, ok := r.files[c.Args[len(c.Args)-1]]
	if !ok {
		return sysexec.Result{}, &sysexec.Error{Cmd: c, ExitCode: -1, Err: errors.New("readbackRunner has no capture for it")}
	}
	res := sysexec.Result{Stdout: readTestdata(r.t, base+".json")}
	if !strings.Contains(base, "missing") {
		return res, nil
	}
	res.Stderr = readTestdata(r.t, base+".stderr")
	code, err := strconv.Atoi(strings.TrimSpace(string(readTestdata(r.t, base+".status"))))
	if err != nil {
		r.t.Fatal(err)
	}
	return res, &sysexec.Error{Cmd: c, ExitCode: code, Stderr: string(res.Stderr), Err: errors.New("exit status " + strconv.Itoa(code))}
}

func TestReadBackCaptured(t *testing.T) {
	p := New(&readbackRunner{t: t, files: map[string]string{
		"vg0/default": "lvs-one", "vg0/nosuchlv": "lvs-missing", "nosuchvg/lv": "lvs-missing-vg",
		"vg0": "vgs-with-pvs", "nosuchvg": "vgs-missing",
	}}, Options{})
	ctx := context.Background()

	lv, err := p.readLV(ctx, "vg0", "default")
	if err != nil || lv == nil || lv.ID() != "vg0/default" || lv.Size != 300<<20 || !lv.Attr.IsThinVolume() || lv.Pool != "cache" {
		t.Errorf("readLV(vg0/default) = %+v, %v", lv, err)
	}
	for _, id := range [][2]string{{"vg0", "nosuchlv"}, {"nosuchvg", "lv"}} {
		if lv, err := p.readLV(ctx, id[0], id[1]); lv != nil || err != nil {
			t.Errorf("readLV(%s/%s) = %+v, %v; want nil, nil (not there)", id[0], id[1], lv, err)
		}
	}

	vg, pvs, err := p.readVG(ctx, "vg0")
	if err != nil || vg == nil || vg.Name != "vg0" || vg.ExtentSize != 4<<20 || vg.PVCount != 2 {
		t.Fatalf("readVG(vg0) = %+v, %v", vg, err)
	}
	if len(pvs) != 2 || pvs[0].Name != "/dev/ubda" || pvs[1].Name != "/dev/ubdb" || pvs[1].Minor != 16 || pvs[0].VG != "vg0" || pvs[0].PEAlloc != 277 {
		t.Errorf("readVG(vg0) PVs = %+v", pvs)
	}
	if vg, pvs, err := p.readVG(ctx, "nosuchvg"); vg != nil || pvs != nil || err != nil {
		t.Errorf("readVG(nosuchvg) = %+v, %v, %v; want nothing", vg, pvs, err)
	}
}

func TestNotFoundOnlyForTheNamedObject(t *testing.T) {
	stderr := string(readTestdata(t, "lvs-missing.stderr"))
	missing := &sysexec.Error{ExitCode: 5, Stderr: stderr}
	if !notFound(missing, `Failed to find logical volume "vg0/nosuchlv"`) {
		t.Errorf("captured stderr %q not recognised", stderr)
	}
	if notFound(missing, `Failed to find logical volume "vg0/other"`) {
		t.Error("a message about another LV counts")
	}
	if notFound(&sysexec.Error{ExitCode: 5, Stderr: "  Reading VG vg0 from disk failed"}, `Failed to find logical volume "vg0/nosuchlv"`) {
		t.Error("another failure counts as not found")
	}
	if notFound(&sysexec.Error{ExitCode: 3, Stderr: stderr}, `Failed to find logical volume "vg0/nosuchlv"`) {
		t.Error("another exit status counts as not found")
	}
}

func TestViewUpdates(t *testing.T) {
	p, _ := newCaptured(t)
	snap, err := p.read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lvs, pvs := len(snap.lvs), len(snap.pvs)

	grown := *snap.lv("vg0", "default")
	grown.Size *= 2
	next := snap.withLV("vg0", "default", &grown)
	if next.lv("vg0", "default").Size != grown.Size || snap.lv("vg0", "default").Size == grown.Size || len(next.lvs) != lvs {
		t.Errorf("withLV replacing: new %+v, old %+v", next.lv("vg0", "default"), snap.lv("vg0", "default"))
	}
	if gone := snap.withLV("vg0", "default", nil); gone.lv("vg0", "default") != nil || len(gone.lvs) != lvs-1 || len(snap.lvs) != lvs {
		t.Error("withLV(nil) did not remove the LV from the copy only")
	}

	// A group made on ubdd, an unused PV: its row is replaced, not doubled.
	made := vgRow{Name: "fresh", ExtentSize: 4 << 20}
	next = snap.withVG("fresh", &made, []pvRow{{Name: "/dev/ubdd", VG: "fresh", Major: 98, Minor: 48}})
	if next.vg("fresh") == nil || len(next.pvs) != pvs || next.pvByDev(devNum{98, 48}).VG != "fresh" || snap.pvByDev(devNum{98, 48}).VG != "" {
		t.Errorf("withVG(fresh): pvs %+v", next.pvs)
	}
	// vg0 leaves ubdb (vgreduce, pvremove): ubdb is no PV any more.
	next = snap.withVG("vg0", snap.vg("vg0"), []pvRow{*snap.pvByDev(devNum{98, 0})})
	if next.pvByDev(devNum{98, 16}) != nil || len(next.pvsOf("vg0")) != 1 || len(next.lvsIn("vg0", "")) != len(snap.lvsIn("vg0", "")) {
		t.Errorf("withVG after removing a device: pvs %+v", next.pvs)
	}
	// other is removed: its PVs and LVs go with it.
	next = snap.withVG("other", nil, nil)
	if next.vg("other") != nil || len(next.pvsOf("other")) != 0 || len(next.lvsIn("other", "")) != 0 || len(next.pvs) != pvs-1 {
		t.Errorf("withVG(other, nil): vgs %+v pvs %+v", next.vgs, next.pvs)
	}
}

func TestDeviceProbedOncePerRun(t *testing.T) {
	p, run := newCaptured(t)
	ctx := context.Background()
	p.Refresh(ctx, &providers.RefreshRequest{})
	cfg := configOf(t, p, typeVG, map[string]cty.Value{"name": cty.StringVal("fresh"), "devices": strSet("/dev/disk/by-id/disk-e")})
	req := &providers.PlanRequest{Addr: mustAddr(t, "volume_group.fresh"), Config: cfg, Prior: cty.NullVal(p.schemas[typeVG].ImpliedType())}
	blkids := func() int {
		n := 0
		for _, c := range run.ran {
			if strings.HasPrefix(c, "blkid ") {
				n++
			}
		}
		return n
	}
	for i := 0; i < 2; i++ {
		if resp := p.Plan(ctx, req); !strings.Contains(resp.Diagnostics.Error(), "filesystem signature (ext4)") {
			t.Fatalf("plan %d: %v", i, resp.Diagnostics)
		}
	}
	if n := blkids(); n != 1 {
		t.Errorf("two plans of the same device ran blkid %d times, want 1: %v", n, run.ran)
	}
	// A new run probes again: the operator may have wiped the disk.
	p.Refresh(ctx, &providers.RefreshRequest{})
	p.Plan(ctx, req)
	if n := blkids(); n != 2 {
		t.Errorf("a plan after a new refresh ran blkid %d times in all, want 2", n)
	}
}
