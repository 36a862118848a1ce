package podman

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/ociimage"
	"github.com/rigplan/rigplan/internal/progress"
	"github.com/rigplan/rigplan/internal/rootfs"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Apply creates, updates or deletes an image directory. A new image is
// made in a temporary directory next to its place and exchanged with the
// old one in a single rename, so a failed or interrupted apply leaves the
// previous image (or nothing) in place, never half of one.
func (p *Provider) Apply(ctx context.Context, req *providers.ApplyRequest) *providers.ApplyResponse {
	if req.Action == providers.Delete {
		return p.delete(ctx, req)
	}
	return p.make(ctx, req)
}

// owned checks that dir is rigplan's image addr, or absent. It returns the
// directory's mark, nil when absent.
func (p *Provider) owned(dir string, addr schema.Address) (*marker, error) {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	m, err := readMarker(dir)
	switch {
	case errors.Is(err, errNoMarker):
		return nil, fmt.Errorf("%s exists but rigplan did not create it (it has no %s mark), so rigplan will not replace it: choose another image name, or remove the directory yourself if it is no longer needed", dir, markerFile)
	case err != nil:
		return nil, fmt.Errorf("%s: %w; rigplan will not touch the directory", dir, err)
	case m.Addr != addr:
		return nil, fmt.Errorf("%s belongs to rigplan's %s, not %s: give one of them another name", dir, m.Addr, addr)
	}
	return m, nil
}

func (p *Provider) make(ctx context.Context, req *providers.ApplyRequest) *providers.ApplyResponse {
	resp := &providers.ApplyResponse{New: req.Prior}
	fail := func(summary string, err error) *providers.ApplyResponse {
		resp.Diagnostics = append(resp.Diagnostics, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: err.Error()})
		return resp
	}
	planned := req.Planned
	name, _ := stringAttr(planned, "name")
	dest := p.dest(name)
	if err := os.MkdirAll(p.imageDir(), 0o700); err != nil {
		return fail("Cannot create the image directory", err)
	}
	old, err := p.owned(dest, req.Addr)
	if err != nil {
		return fail("Image directory not owned by rigplan", err)
	}
	if removed, err := rootfs.RemoveStale(dest); err != nil {
		return fail("Cannot remove an interrupted run's leftovers", err)
	} else if len(removed) > 0 {
		resp.Diagnostics = append(resp.Diagnostics, warnDiag("Removed an interrupted run's leftovers", fmt.Sprintf("%s: %q.", req.Addr, removed)))
	}

	// The source is resolved again (cheap for a registry: one request) so
	// that a source changed since the plan is noticed.
	sourceDigest, diags := p.sourceDigest(ctx, planned)
	resp.Diagnostics = append(resp.Diagnostics, diags...)
	if diags.HasErrors() {
		return resp
	}
	sd := sourceDigest.AsString()
	if want := planned.GetAttr("source_digest"); want.IsKnown() && !want.IsNull() && want.AsString() != sd {
		return fail("Image source changed since the plan", fmt.Errorf("%s was planned from %s but its source is now %s: run rigplan plan again", req.Addr, want.AsString(), sd))
	}

	m := &marker{Addr: req.Addr, SourceDigest: sd}
	if err := m.recordConfig(planned, p.types); err != nil {
		return fail("Cannot record the image's configuration", err)
	}
	if old != nil && old.SourceDigest == sd && old.Digest != "" && complete(dest) {
		// Made from the same inputs: only the recorded configuration
		// (isolation, timeout, the spelling of the source) changes.
		m.Digest, m.PodmanImage = old.Digest, old.PodmanImage
		if err := writeMarker(dest, m); err != nil {
			return fail("Cannot record the image's configuration", err)
		}
		resp.New = p.state(name, planned.GetAttr("source"), planned.GetAttr("build"), sd, m.Digest)
		return resp
	}

	rep := progress.New(p.opts.Progress, req.Addr.String())
	stage, err := rootfs.NewStage(dest)
	if err != nil {
		return fail("Cannot make the image", err)
	}
	committed := false
	defer func() {
		if !committed {
			stage.Discard()
		}
	}()
	layout := filepath.Join(stage.Dir(), layoutDir)
	if build := planned.GetAttr("build"); !build.IsNull() {
		b, err := decodeBuild(build)
		if err != nil {
			return fail("Invalid build block", err)
		}
		if m.PodmanImage, err = p.build(ctx, name, b, stage.Dir(), rep); err != nil {
			return fail(fmt.Sprintf("Building %s failed", req.Addr), err)
		}
		if err := p.push(ctx, m.PodmanImage, layout); err != nil {
			return fail(fmt.Sprintf("Exporting %s from podman failed", req.Addr), err)
		}
	} else {
		ref, err := ociimage.ParseReference(planned.GetAttr("source").AsString())
		if err != nil {
			return fail("Invalid image source", err)
		}
		rep.Printf("copying %s", ref)
		start := time.Now()
		if _, err := p.opts.Images.CopyToLayout(ctx, ref, layout, ociimage.CopyOptions{Digest: digestOf(sd), Report: rep.Writer()}); err != nil {
			return fail(fmt.Sprintf("Copying %s failed", req.Addr), err)
		}
		rep.Printf("copied %s in %s", ref, time.Since(start).Round(100*time.Millisecond))
	}

	root := filepath.Join(stage.Dir(), rootfsDir)
	if err := os.Mkdir(root, 0o755); err != nil {
		return fail("Cannot make the image", err)
	}
	d, err := ociimage.Unpack(ctx, layout, root, ociimage.UnpackOptions{Progress: rep})
	if err != nil {
		return fail(fmt.Sprintf("Unpacking %s failed", req.Addr), err)
	}
	m.Digest = d.String()
	if err := writeMarker(stage.Dir(), m); err != nil {
		return fail("Cannot record the image", err)
	}
	err = stage.Commit()
	var leftover *rootfs.LeftoverError
	switch {
	case errors.As(err, &leftover):
		resp.Diagnostics = append(resp.Diagnostics, warnDiag("Old image not removed", err.Error()+" The next apply removes it."))
	case err != nil:
		return fail("Cannot put the new image in place", err)
	}
	committed = true
	resp.New = p.state(name, planned.GetAttr("source"), planned.GetAttr("build"), sd, m.Digest)
	if old != nil && old.PodmanImage != "" && old.PodmanImage != m.PodmanImage {
		// The previous build is untagged now; its layers stay cached in
		// podman for as long as the new image shares them.
		resp.Diagnostics = append(resp.Diagnostics, p.removePodmanImage(ctx, old.PodmanImage)...)
	}
	return resp
}

func (p *Provider) delete(ctx context.Context, req *providers.ApplyRequest) *providers.ApplyResponse {
	resp := &providers.ApplyResponse{New: req.Prior}
	name, ok := stringAttr(req.Prior, "name")
	if !ok {
		resp.Diagnostics = errDiag("Cannot delete an image without a name", fmt.Sprintf("%s: this is a bug in rigplan.", req.Addr))
		return resp
	}
	dest := p.dest(name)
	m, err := p.owned(dest, req.Addr)
	if err != nil {
		resp.Diagnostics = errDiag("Image directory not owned by rigplan", err.Error())
		return resp
	}
	if m == nil {
		resp.New = cty.NullVal(p.res.ImpliedType())
		return resp
	}
	err = rootfs.Remove(dest)
	var leftover *rootfs.LeftoverError
	switch {
	case errors.As(err, &leftover):
		resp.Diagnostics = append(resp.Diagnostics, warnDiag("Image not removed entirely", err.Error()+" The next apply of an image of that name removes it."))
	case err != nil:
		resp.Diagnostics = errDiag(fmt.Sprintf("Deleting %s failed", req.Addr), err.Error())
		return resp
	}
	// What an apply killed while it made a new version left beside it.
	if _, err := rootfs.RemoveStale(dest); err != nil {
		resp.Diagnostics = append(resp.Diagnostics, warnDiag("Image not removed entirely", fmt.Sprintf("%v. Remove it by hand.", err)))
	}
	resp.New = cty.NullVal(p.res.ImpliedType())
	if m.PodmanImage != "" {
		resp.Diagnostics = append(resp.Diagnostics, p.removePodmanImage(ctx, m.PodmanImage)...)
	}
	return resp
}
