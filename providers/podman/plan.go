package podman

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/ociimage"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/providers"
)

// Plan proposes an image's state. It resolves what the image would be made
// from now (a registry's manifest digest, an archive's, or a hash of the
// build's inputs) and compares it with what the directory was made from:
// the same keeps the recorded digest, a different one (or a missing root
// filesystem) leaves the digest unknown until apply makes the image again.
func (p *Provider) Plan(ctx context.Context, req *providers.PlanRequest) *providers.PlanResponse {
	if req.Config.IsNull() {
		return &providers.PlanResponse{Planned: cty.NullVal(p.res.ImpliedType())}
	}
	resp := providers.DefaultPlan(p.res, req.Config, req.Prior)
	if !resp.Planned.IsKnown() {
		return resp
	}
	vals := resp.Planned.AsValueMap()
	if name, ok := stringAttr(resp.Planned, "name"); ok {
		dir := p.dest(name)
		vals["path"] = cty.StringVal(filepath.Join(dir, rootfsDir))
		vals["layout"] = cty.StringVal(filepath.Join(dir, layoutDir))
	}
	sourceDigest, diags := p.sourceDigest(ctx, resp.Planned)
	resp.Diagnostics = append(resp.Diagnostics, diags...)
	if diags.HasErrors() {
		return resp
	}
	vals["source_digest"] = sourceDigest
	vals["digest"] = cty.UnknownVal(cty.String)
	if prior := req.Prior; !prior.IsNull() && sourceDigest.IsKnown() {
		if d, ok := stringAttr(prior, "digest"); ok && d != "" && prior.GetAttr("source_digest").RawEquals(sourceDigest) {
			vals["digest"] = prior.GetAttr("digest")
		}
	}
	resp.Planned = cty.ObjectVal(vals)
	if !vals["digest"].IsKnown() && !resp.Planned.GetAttr("build").IsNull() {
		resp.Diagnostics = append(resp.Diagnostics, p.checkPodman(ctx)...)
	}
	return resp
}

// sourceDigest resolves what the configured source is now, or an unknown
// value while the configuration is not known.
func (p *Provider) sourceDigest(ctx context.Context, v cty.Value) (cty.Value, hcl.Diagnostics) {
	source, build := v.GetAttr("source"), v.GetAttr("build")
	switch {
	case !source.IsKnown() || !build.IsWhollyKnown():
		return cty.UnknownVal(cty.String), nil
	case !source.IsNull():
		ref, err := ociimage.ParseReference(source.AsString())
		if err != nil {
			return cty.NilVal, errDiag("Invalid image source", err.Error())
		}
		d, err := p.opts.Images.Digest(ctx, ref)
		if err != nil {
			return cty.NilVal, errDiag("Cannot read the image source", err.Error())
		}
		return cty.StringVal(d.String()), nil
	case !build.IsNull():
		b, err := decodeBuild(build)
		if err != nil {
			return cty.NilVal, errDiag("Invalid build block", err.Error())
		}
		d, err := buildDigest(b)
		if err != nil {
			return cty.NilVal, errDiag("Cannot read the build's inputs", fmt.Sprintf("%v. The build block names the context %s and the Containerfile %s; both must exist on this host.", err, b.Context, b.Containerfile))
		}
		return cty.StringVal(d), nil
	}
	return cty.UnknownVal(cty.String), nil
}

// checkPodman fails the plan early when a build is due and podman cannot
// run, rather than half-way through an apply.
func (p *Provider) checkPodman(ctx context.Context) hcl.Diagnostics {
	cmd := p.podman("--version")
	cmd.Timeout = 30 * time.Second
	_, err := p.run.Run(ctx, cmd)
	switch {
	case err == nil:
		return nil
	case sysexec.NotInstalled(err):
		return errDiag("podman is not installed",
			fmt.Sprintf("Building an image needs podman, which was not found (%s). Install the Debian package podman (apt-get install podman), or copy a prebuilt image with source = \"docker://…\" instead of a build block.", p.opts.Podman))
	default:
		return errDiag("podman does not run", fmt.Sprintf("Building an image needs podman, but %v", err))
	}
}
