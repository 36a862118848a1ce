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
	// last is what the last Refresh read, for Plan's host checks.
	last *snapshot
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

// Apply creates, updates or deletes one object.
func (p *Provider) Apply(ctx context.Context, req *providers.ApplyRequest) *providers.ApplyResponse {
	if _, ok := p.schemas[req.Addr.Type]; !ok {
		return &providers.ApplyResponse{New: cty.NilVal, Diagnostics: errDiag(fmt.Sprintf("lvm provider has no resource type %q", req.Addr.Type), "This is a bug in rigplan.")}
	}
	a := &applier{p: p, req: req, res: p.schemas[req.Addr.Type]}
	var resp *providers.ApplyResponse
	switch req.Addr.Type {
	case typeVG:
		resp = a.applyVG(ctx)
	case typePool:
		resp = a.applyPool(ctx)
	default:
		resp = a.applyVolume(ctx)
	}
	// Whatever happened, the host changed: the next Plan must read again.
	p.mu.Lock()
	p.last = nil
	p.mu.Unlock()
	return resp
}

// snapshot returns what the last Refresh read, reading the host if no
// Refresh ran since the last Apply.
func (p *Provider) snapshot(ctx context.Context) (*snapshot, hcl.Diagnostics) {
	p.mu.Lock()
	snap := p.last
	p.mu.Unlock()
	if snap != nil {
		return snap, nil
	}
	snap, err := p.read(ctx)
	if err != nil {
		return nil, errDiag("Could not read LVM's state", err.Error())
	}
	p.mu.Lock()
	p.last = snap
	p.mu.Unlock()
	return snap, nil
}

func errDiag(summary, detail string) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail}}
}

func warnDiag(summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: detail}
}
