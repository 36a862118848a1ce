package lvm

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Options configures a Provider. The zero value is right for production.
type Options struct {
	// TempDir is where temporary mount points are created (the mounts
	// themselves live in a private mount namespace that dies with the
	// command). Default /run/rigplan.
	TempDir string
	// MountInfo is the mount table used to find where a volume is mounted.
	// Default /proc/self/mountinfo.
	MountInfo string
	// ReportTimeout bounds each lvs/vgs/pvs call. Default one minute.
	ReportTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.TempDir == "" {
		o.TempDir = "/run/rigplan"
	}
	if o.MountInfo == "" {
		o.MountInfo = "/proc/self/mountinfo"
	}
	if o.ReportTimeout <= 0 {
		o.ReportTimeout = time.Minute
	}
	return o
}

// Provider implements volume_group, thin_pool and volume on LVM.
type Provider struct {
	run  sysexec.Runner
	opts Options
	// host reads block devices directly (no command); tests replace it.
	host hostProbe

	schemas map[string]*schema.Resource

	mu sync.Mutex
	// view is this run's picture of LVM: what Refresh read, updated by each
	// Apply with what it read back about the object it changed. Plan
	// checks against it and Apply acts on it without reading the whole
	// host again (a provider lives for one CLI run: Refresh, Plan, Apply).
	// It is nil before Refresh and after a failed Apply, whose side effects
	// may reach beyond the object read back; the next caller then reads
	// the whole host.
	view *snapshot
	// sigs holds what blkid found on each device during this run, so that
	// planning a device twice (a replacement, a replan during apply) probes
	// it once. rigplan's own pvcreate and pvremove forget their devices.
	sigs map[string]string
}

var _ providers.Provider = (*Provider)(nil)

// New returns an LVM provider that runs every command through run.
func New(run sysexec.Runner, opts Options) *Provider {
	p := &Provider{run: run, opts: opts.withDefaults(), host: realHost{}, schemas: map[string]*schema.Resource{}}
	for _, s := range []*schema.Resource{vgSchema(), poolSchema(), volumeSchema()} {
		s.Provider = p.Name()
		p.schemas[s.Type] = s
	}
	return p
}

// Name is "lvm".
func (p *Provider) Name() string { return "lvm" }

// Schemas declares volume_group, thin_pool and volume.
func (p *Provider) Schemas() []*schema.Resource {
	return []*schema.Resource{p.schemas[typeVG], p.schemas[typePool], p.schemas[typeVolume]}
}

// Plan proposes the state of one instance.
func (p *Provider) Plan(ctx context.Context, req *providers.PlanRequest) *providers.PlanResponse {
	res, ok := p.schemas[req.Addr.Type]
	if !ok {
		return &providers.PlanResponse{Diagnostics: errDiag(fmt.Sprintf("lvm provider has no resource type %q", req.Addr.Type), "This is a bug in rigplan.")}
	}
	if !req.Config.IsNull() {
		if _, err := addrTag(req.Addr); err != nil {
			return &providers.PlanResponse{Diagnostics: errDiag("Address too long for an ownership mark", err.Error())}
		}
	}
	snap, diags := p.snapshot(ctx)
	if diags.HasErrors() {
		return &providers.PlanResponse{Diagnostics: diags}
	}
	pl := &planner{p: p, snap: snap, res: res, req: req}
	var resp *providers.PlanResponse
	switch req.Addr.Type {
	case typeVG:
		resp = pl.planVG(ctx)
	case typePool:
		resp = pl.planPool()
	default:
		resp = pl.planVolume()
	}
	resp.Diagnostics = append(diags, resp.Diagnostics...)
	return resp
}

// Apply creates, updates or deletes one object. It acts on the run's
// view, which Plan checked the change against, and relies on LVM's own
// refusals (it never answers a question with yes, see doc.go) for what may
// have changed since; then it reads back only the object it changed.
func (p *Provider) Apply(ctx context.Context, req *providers.ApplyRequest) *providers.ApplyResponse {
	res, ok := p.schemas[req.Addr.Type]
	if !ok {
		return &providers.ApplyResponse{New: cty.NilVal, Diagnostics: errDiag(fmt.Sprintf("lvm provider has no resource type %q", req.Addr.Type), "This is a bug in rigplan.")}
	}
	snap, diags := p.snapshot(ctx)
	if diags.HasErrors() {
		return &providers.ApplyResponse{New: req.Prior, Diagnostics: diags}
	}
	a := &applier{p: p, req: req, res: res, snap: snap}
	var resp *providers.ApplyResponse
	switch req.Addr.Type {
	case typeVG:
		resp = a.applyVG(ctx)
	case typePool:
		resp = a.applyPool(ctx)
	default:
		resp = a.applyVolume(ctx)
	}
	if resp.Diagnostics.HasErrors() {
		p.forget()
	}
	return resp
}

// snapshot returns the run's view, reading the whole host when there is
// none (no Refresh yet, or a failed Apply since).
func (p *Provider) snapshot(ctx context.Context) (*snapshot, hcl.Diagnostics) {
	p.mu.Lock()
	snap := p.view
	p.mu.Unlock()
	if snap != nil {
		return snap, nil
	}
	snap, err := p.read(ctx)
	if err != nil {
		return nil, errDiag("Could not read LVM's state", err.Error())
	}
	p.mu.Lock()
	if p.view == nil {
		p.view = snap
	}
	p.mu.Unlock()
	return snap, nil
}

// startRun makes snap the run's view and forgets earlier probes.
func (p *Provider) startRun(snap *snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.view, p.sigs = snap, nil
}

// updateView applies a change apply made (and read back) to the run's
// view, if there is one.
func (p *Provider) updateView(change func(*snapshot) *snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.view != nil {
		p.view = change(p.view)
	}
}

// forget drops the run's view and probes, so that the next Plan or Apply
// reads the host.
func (p *Provider) forget() {
	p.startRun(nil)
}

// signature is probeSignature's answer for dev, probed once per run.
func (p *Provider) signature(ctx context.Context, dev string) (string, error) {
	p.mu.Lock()
	sig, ok := p.sigs[dev]
	p.mu.Unlock()
	if ok {
		return sig, nil
	}
	sig, err := probeSignature(ctx, p.run, dev)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	if p.sigs == nil {
		p.sigs = map[string]string{}
	}
	p.sigs[dev] = sig
	p.mu.Unlock()
	return sig, nil
}

// forgetSignatures drops the probes of devices rigplan just wrote a PV
// label to or wiped one from.
func (p *Provider) forgetSignatures(devs ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range devs {
		delete(p.sigs, d)
	}
}

func errDiag(summary, detail string) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail}}
}

func warnDiag(summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: detail}
}
