package cache

import (
	"fmt"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/internal/systemd"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Options configures a Provider. Root and Executable are the only fields
// production sets.
type Options struct {
	// Root is the filesystem root the provider reads and writes files
	// under; "" is "/". Paths in the files (and in the plan) are host
	// paths, without it. Tests point it at a temporary directory.
	Root string
	// Executable is the rigplan binary a new service runs when the
	// configuration names none: the CLI passes its own path.
	Executable string
	// Systemd is how the provider talks to systemd; nil means systemctl
	// run through the provider's runner.
	Systemd systemd.Manager
	// UnitDir and ConfigDir are where unit and configuration files go:
	// /etc/systemd/system and /etc/rigplan/cache by default.
	UnitDir, ConfigDir string
}

// Provider implements the cache resource type: the cache agent as a
// systemd service.
type Provider struct {
	opts   Options
	sd     systemd.Manager
	schema *schema.Resource
}

var _ providers.Provider = (*Provider)(nil)

// New returns a cache provider that runs systemctl through run, unless
// opts names another systemd.Manager.
func New(run sysexec.Runner, opts Options) *Provider {
	if opts.Root == "" {
		opts.Root = "/"
	}
	if opts.UnitDir == "" {
		opts.UnitDir = defaultUnitDir
	}
	if opts.ConfigDir == "" {
		opts.ConfigDir = defaultConfigDir
	}
	sd := opts.Systemd
	if sd == nil {
		sd = systemd.Systemctl{Run: run}
	}
	p := &Provider{opts: opts, sd: sd, schema: cacheSchema()}
	p.schema.Provider = p.Name()
	return p
}

// Name is "cache": the type is built into rigplan, not backed by another tool.
func (p *Provider) Name() string { return "cache" }

// Schemas declares the cache type.
func (p *Provider) Schemas() []*schema.Resource { return []*schema.Resource{p.schema} }

// onHost is where a host path is under the provider's root.
func (p *Provider) onHost(hostPath string) string {
	return filepath.Join(p.opts.Root, hostPath)
}

func errDiag(summary, detail string) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail}}
}

func warnDiag(summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: detail}
}

func errorf(summary, format string, args ...any) hcl.Diagnostics {
	return errDiag(summary, fmt.Sprintf(format, args...))
}
