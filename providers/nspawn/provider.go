package nspawn

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/internal/systemd"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Host paths the provider uses, under Options.Root.
const (
	settingsDir = "/etc/systemd/nspawn"
	unitDir     = "/etc/systemd/system"
	// runtimeDir holds the drop-in that keeps systemd from booting a
	// machine again while apply waits for its job to replace its root.
	// Drop-ins apply in the order of their names, whatever their
	// directory: the hold's sorts after rigplan.conf, so its Restart=no
	// wins.
	runtimeDir  = "/run/systemd/system"
	holdName    = "rigplan.hold.conf"
	machinesDir = "/var/lib/machines"
	// markDir holds each machine's ownership mark for its root directory:
	// outside the tree, so that nothing inside the machine can forge it.
	markDir     = "/var/lib/rigplan/machines"
	dropInName  = "rigplan.conf"
	unitPrefix  = "systemd-nspawn@"
	unitSuffix  = ".service"
	cgroupMount = "/sys/fs/cgroup"
)

// Options configures a Provider.
type Options struct {
	// Root is the filesystem root the provider reads and writes under; ""
	// is "/". Tests point it at a temporary directory.
	Root string
	// Systemd is how the provider talks to systemd; nil means systemctl
	// run through the provider's runner.
	Systemd systemd.Manager
	// PollInterval is how often apply looks whether a busy machine's job
	// ended; 0 is 10 s.
	PollInterval time.Duration
	// Progress receives progress of root unpacks and of waits for a job;
	// nil is quiet. The CLI passes its stderr only when that is a
	// terminal.
	Progress io.Writer
}

// Provider implements the machine resource type.
type Provider struct {
	opts   Options
	sd     systemd.Manager
	schema *schema.Resource
}

var _ providers.Provider = (*Provider)(nil)

// New returns an nspawn provider that runs systemctl through run, unless
// opts names another systemd.Manager.
func New(run sysexec.Runner, opts Options) *Provider {
	if opts.Root == "" {
		opts.Root = "/"
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 10 * time.Second
	}
	sd := opts.Systemd
	if sd == nil {
		sd = systemd.Systemctl{Run: run}
	}
	p := &Provider{opts: opts, sd: sd, schema: machineSchema()}
	p.schema.Provider = p.Name()
	return p
}

// Name is "nspawn".
func (p *Provider) Name() string { return "nspawn" }

// Schemas declares the machine type.
func (p *Provider) Schemas() []*schema.Resource { return []*schema.Resource{p.schema} }

func (p *Provider) onHost(hostPath string) string { return filepath.Join(p.opts.Root, hostPath) }

// paths are where one machine's files are, as host paths.
type paths struct {
	name, unit, settings, dropIn, hold, dir, mark string
}

func pathsFor(name string) paths {
	unit := unitPrefix + name + unitSuffix
	return paths{
		name:     name,
		unit:     unit,
		settings: filepath.Join(settingsDir, name+".nspawn"),
		dropIn:   filepath.Join(unitDir, unit+".d", dropInName),
		hold:     filepath.Join(runtimeDir, unit+".d", holdName),
		dir:      filepath.Join(machinesDir, name),
		mark:     filepath.Join(markDir, name),
	}
}

func errDiag(summary, detail string) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail}}
}

func errorf(summary, format string, args ...any) hcl.Diagnostics {
	return errDiag(summary, fmt.Sprintf(format, args...))
}

func warnf(summary, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: fmt.Sprintf(format, args...)}
}
