package lvm

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Refresh reads LVM's state with exactly one lvs, one vgs and one pvs
// call, run concurrently, and reports every object carrying rigplan's
// mark, plus the unmarked objects the configuration names.
func (p *Provider) Refresh(ctx context.Context, req *providers.RefreshRequest) *providers.RefreshResponse {
	snap, err := p.read(ctx)
	if err != nil {
		return &providers.RefreshResponse{Diagnostics: errDiag("Could not read LVM's state", err.Error())}
	}
	snap.desired = map[schema.Address]bool{}
	for _, inst := range req.Desired {
		snap.desired[inst.Addr] = true
	}
	p.startRun(snap)
	b := newBuilder(snap, p.host, req.Desired)
	objs, diags := b.build()
	return &providers.RefreshResponse{Objects: objs, Diagnostics: diags}
}

// builder turns a snapshot into the objects Refresh reports.
type builder struct {
	snap    *snapshot
	host    hostProbe
	configs map[schema.Address]cty.Value
	desired []providers.Instance
	devs    map[string]devNum // config device path → device, when it exists
	diags   hcl.Diagnostics
}

func newBuilder(snap *snapshot, host hostProbe, desired []providers.Instance) *builder {
	b := &builder{snap: snap, host: host, desired: desired, configs: map[schema.Address]cty.Value{}, devs: map[string]devNum{}}
	for _, inst := range desired {
		b.configs[inst.Addr] = inst.Config
	}
	return b
}

// build reports managed objects first, then unmarked desired ones.
func (b *builder) build() ([]providers.Object, hcl.Diagnostics) {
	var objs []providers.Object
	owner := map[string]schema.Address{} // object ID → address it is marked with
	for i := range b.snap.vgs {
		vg := &b.snap.vgs[i]
		if addr, ok := b.managed(vg.Tags, typeVG, "volume group "+vg.Name); ok {
			owner[vg.Name] = addr
			objs = append(objs, providers.Object{Addr: addr, State: b.vgState(vg, b.configs[addr]), Managed: true, ID: vg.Name})
		}
	}
	for i := range b.snap.lvs {
		lv := &b.snap.lvs[i]
		typ := lvType(lv)
		if typ == "" {
			if parseMarks(lv.Tags).Managed {
				b.diags = append(b.diags, warnDiag("Marked object of an unknown kind",
					fmt.Sprintf("%s carries the tag %s but is a %s LV, neither a thin pool nor a thin volume; rigplan leaves it alone.", lv.ID(), tagManaged, lv.Segtype)))
			}
			continue
		}
		addr, ok := b.managed(lv.Tags, typ, lv.Attr.Describe()+" "+lv.ID())
		if !ok {
			continue
		}
		owner[lv.ID()] = addr
		o := providers.Object{Addr: addr, State: b.lvState(lv, typ, b.configs[addr]), Managed: true, ID: lv.ID()}
		if container, ok := owner[b.containerID(lv)]; ok {
			o.DependsOn = []schema.Address{container}
		} else if c := b.containerAddr(lv); c != nil {
			o.DependsOn = []schema.Address{*c}
		}
		objs = append(objs, o)
	}
	objs = append(objs, b.unmarked(owner)...)
	return objs, b.diags
}

// lvType is the resource type an LV can be, or "".
func lvType(lv *lvRow) string {
	switch {
	case lv.Attr.IsThinPool():
		return typePool
	case lv.Attr.IsThinVolume():
		return typeVolume
	}
	return ""
}

// containerID is the ID of what holds an LV: its pool, or its VG.
func (b *builder) containerID(lv *lvRow) string {
	if lv.Attr.IsThinVolume() {
		return lv.VG + "/" + lv.Pool
	}
	return lv.VG
}

// containerAddr finds the address of an LV's container when it is
// managed (used when the container was listed after the LV).
func (b *builder) containerAddr(lv *lvRow) *schema.Address {
	var tags []string
	if lv.Attr.IsThinVolume() {
		pool := b.snap.lv(lv.VG, lv.Pool)
		if pool == nil {
			return nil
		}
		tags = pool.Tags
	} else if vg := b.snap.vg(lv.VG); vg != nil {
		tags = vg.Tags
	}
	if m := parseMarks(tags); m.owns() {
		return &m.Addr
	}
	return nil
}

// managed reads an object's ownership mark. A broken or mistyped mark is
// reported as a warning and the object left alone.
func (b *builder) managed(tags []string, typ, what string) (schema.Address, bool) {
	m := parseMarks(tags)
	if !m.Managed {
		return schema.Address{}, false
	}
	switch {
	case !m.HasAddr:
		b.diags = append(b.diags, warnDiag("Marked object without an address",
			fmt.Sprintf("The %s carries the tag %s but no %s… tag, so rigplan cannot tell which resource it is and leaves it alone. Remove the %s tag if rigplan should forget it.", what, tagManaged, tagAddr, tagManaged)))
	case m.AddrErr != nil:
		b.diags = append(b.diags, warnDiag("Unreadable ownership mark",
			fmt.Sprintf("The %s carries an address tag rigplan cannot read (%v); rigplan leaves it alone.", what, m.AddrErr)))
	case m.Addr.Type != typ:
		b.diags = append(b.diags, warnDiag("Ownership mark of the wrong type",
			fmt.Sprintf("The %s is marked as %s, which is not a %s; rigplan leaves it alone.", what, m.Addr, typ)))
	default:
		return m.Addr, true
	}
	return schema.Address{}, false
}

func (b *builder) vgState(vg *vgRow, cfg cty.Value) cty.Value {
	devName := func(pv *pvRow) string {
		for _, d := range stringsOf(attr(cfg, "devices")) {
			if n, ok := b.device(d); ok && n.Major == pv.Major && n.Minor == pv.Minor {
				return d
			}
		}
		return pv.Name
	}
	return vgState(vg, b.snap.pvsOf(vg.Name), cfg, devName)
}

// device resolves a config's device path once per refresh.
func (b *builder) device(path string) (devNum, bool) {
	if n, ok := b.devs[path]; ok {
		return n, true
	}
	n, _, err := b.host.device(path)
	if err != nil {
		return devNum{}, false
	}
	b.devs[path] = n
	return n, true
}

func (b *builder) lvState(lv *lvRow, typ string, cfg cty.Value) cty.Value {
	extent := defaultExtentSize
	if vg := b.snap.vg(lv.VG); vg != nil {
		extent = vg.ExtentSize
	}
	if typ == typePool {
		return poolState(lv, extent, cfg)
	}
	f := volumeFacts{extent: extent}
	if lv.Attr.Active() {
		fs, err := b.host.filesystem("/dev/" + lv.VG + "/" + lv.Name)
		if err == nil {
			f.fs, f.fsKnown = fs, true
		} else {
			b.diags = append(b.diags, warnDiag("Could not read a volume's filesystem",
				fmt.Sprintf("Reading the superblock of %s failed (%v); rigplan assumes it holds the configured filesystem.", lv.ID(), err)))
		}
	} else {
		b.diags = append(b.diags, warnDiag("Volume is not active",
			fmt.Sprintf("%s is not active, so rigplan cannot read its filesystem and assumes it holds the configured one. Activate it with: lvchange -ay %s", lv.ID(), lv.ID())))
	}
	return volumeState(lv, f, cfg)
}
