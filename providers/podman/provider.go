package podman

import (
	"io"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/ociimage"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// DefaultDir is where images are unpacked.
const DefaultDir = "/var/lib/rigplan/images"

// Options configures a Provider. The zero value is right for production.
type Options struct {
	// Root is prepended to Dir, for tests (the CLI's RIGPLAN_ROOT).
	Root string
	// Dir holds one directory per image. Default DefaultDir.
	Dir string
	// Podman is the podman program. Default "podman".
	Podman string
	// PodmanArgs come before every podman subcommand, e.g. --root and
	// --runroot to keep tests out of the host's image storage.
	PodmanArgs []string
	// Progress receives progress of builds, pulls and unpacks; nil is
	// quiet. The CLI passes its stderr only when that is a terminal.
	Progress io.Writer
	// Images reads image sources; nil uses the host's containers/image
	// configuration.
	Images *ociimage.Client
}

func (o Options) withDefaults() Options {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if o.Podman == "" {
		o.Podman = "podman"
	}
	if o.Images == nil {
		o.Images = &ociimage.Client{}
	}
	return o
}

// Provider implements the image resource.
type Provider struct {
	run   sysexec.Runner
	opts  Options
	res   *schema.Resource
	types typeInfo
}

var _ providers.Provider = (*Provider)(nil)

// New returns a podman provider that runs podman through run.
func New(run sysexec.Runner, opts Options) *Provider {
	p := &Provider{run: run, opts: opts.withDefaults(), res: imageSchema()}
	p.res.Provider = p.Name()
	p.types = typesOf(p.res.ImpliedType())
	return p
}

// Name is "podman".
func (p *Provider) Name() string { return "podman" }

// Schemas declares image.
func (p *Provider) Schemas() []*schema.Resource { return []*schema.Resource{p.res} }

// imageDir is the directory holding every image.
func (p *Provider) imageDir() string { return filepath.Join(p.opts.Root, p.opts.Dir) }

// dest is the directory of the image called name.
func (p *Provider) dest(name string) string { return filepath.Join(p.imageDir(), name) }

// Paths inside an image's directory.
const (
	rootfsDir = "rootfs"
	layoutDir = "oci"
)

// state is an image's state value.
func (p *Provider) state(name string, source, build cty.Value, sourceDigest, digest string) cty.Value {
	dir := p.dest(name)
	return cty.ObjectVal(map[string]cty.Value{
		"name":          cty.StringVal(name),
		"source":        source,
		"build":         build,
		"path":          cty.StringVal(filepath.Join(dir, rootfsDir)),
		"layout":        cty.StringVal(filepath.Join(dir, layoutDir)),
		"source_digest": cty.StringVal(sourceDigest),
		"digest":        cty.StringVal(digest),
	})
}

// podman is a podman command line with the configured global flags.
func (p *Provider) podman(args ...string) sysexec.Cmd {
	return sysexec.Cmd{Name: p.opts.Podman, Args: append(append([]string{}, p.opts.PodmanArgs...), args...)}
}

func errDiag(summary, detail string) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail}}
}

func warnDiag(summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: detail}
}

func stringAttr(v cty.Value, name string) (string, bool) {
	if v.IsNull() || !v.IsKnown() {
		return "", false
	}
	a := v.GetAttr(name)
	if a.IsNull() || !a.IsKnown() {
		return "", false
	}
	return a.AsString(), true
}
