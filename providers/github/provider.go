package github

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/rigplan/rigplan/internal/ghapi"
	"github.com/rigplan/rigplan/internal/runnerconf"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/internal/systemd"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Options configures a Provider.
type Options struct {
	// Root is the filesystem root the provider reads and writes under
	// (the runner files, the credentials' files); "" is "/".
	Root string
	// Systemd tells which machines run, and their boots; nil means
	// systemctl run through the provider's runner.
	Systemd systemd.Manager
	// Client makes the GitHub client for a policy's URL and credentials
	// (once; they are kept for the provider's life); nil is ghapi.New.
	Client func(ghapi.Options) (ghapi.API, error)
}

// Provider implements the runner resource type.
type Provider struct {
	opts    Options
	sd      systemd.Manager
	schema  *schema.Resource
	clients ghapi.Clients
}

var _ providers.Provider = (*Provider)(nil)

// New returns a github provider.
func New(run sysexec.Runner, opts Options) *Provider {
	if opts.Root == "" {
		opts.Root = "/"
	}
	sd := opts.Systemd
	if sd == nil {
		sd = systemd.Systemctl{Run: run}
	}
	p := &Provider{opts: opts, sd: sd, schema: runnerSchema(), clients: ghapi.Clients{New: opts.Client}}
	p.schema.Provider = p.Name()
	return p
}

// Name is "github".
func (p *Provider) Name() string { return "github" }

// Schemas declares the runner type.
func (p *Provider) Schemas() []*schema.Resource { return []*schema.Resource{p.schema} }

// client is the GitHub client of a policy, its credentials' files read
// under the provider's root.
func (p *Provider) client(c runnerconf.Config) (ghapi.API, error) {
	auth := c.Auth
	if auth.TokenFile != "" {
		auth.TokenFile = filepath.Join(p.opts.Root, auth.TokenFile)
	}
	if auth.PrivateKeyFile != "" {
		auth.PrivateKeyFile = filepath.Join(p.opts.Root, auth.PrivateKeyFile)
	}
	return p.clients.Get(ghapi.Options{URL: c.URL, Auth: auth})
}

// fileName is the runner file's name of an instance: the block's name,
// and its key for count and for_each.
func fileName(a schema.Address) string {
	if !a.Key.IsSet {
		return a.Name
	}
	k := strings.Trim(a.Key.String(), `[]"`)
	return a.Name + "-" + strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, k)
}

func errorf(summary, format string, args ...any) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...)}}
}

func warnf(summary, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: fmt.Sprintf(format, args...)}
}
