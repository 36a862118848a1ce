package podman

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Refresh lists the image directory: every directory carrying rigplan's
// mark is a managed image, and a directory the configuration names that
// carries no mark (or another address's) is reported as unmanaged, which
// the planner refuses to touch. It runs no command.
func (p *Provider) Refresh(ctx context.Context, req *providers.RefreshRequest) *providers.RefreshResponse {
	resp := &providers.RefreshResponse{}
	entries, err := os.ReadDir(p.imageDir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		resp.Diagnostics = errDiag("Could not read the image directory", fmt.Sprintf("Listing %s failed: %v.", p.imageDir(), err))
		return resp
	}
	owner := map[string]schema.Address{}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		dir := p.dest(name)
		m, err := readMarker(dir)
		switch {
		case errors.Is(err, errNoMarker):
			continue
		case err != nil:
			resp.Diagnostics = append(resp.Diagnostics, warnDiag("Unreadable ownership mark",
				fmt.Sprintf("%s carries a mark rigplan cannot read (%v), so rigplan leaves the directory alone. Remove the directory if it is no longer needed.", dir, err)))
			continue
		case m.Addr.Type != typeImage:
			resp.Diagnostics = append(resp.Diagnostics, warnDiag("Ownership mark of the wrong type",
				fmt.Sprintf("%s is marked as %s, which is not an image; rigplan leaves it alone.", dir, m.Addr)))
			continue
		}
		state, err := p.stateFromMarker(name, m)
		if err != nil {
			resp.Diagnostics = append(resp.Diagnostics, warnDiag("Unreadable ownership mark",
				fmt.Sprintf("%s: %v; rigplan leaves the directory alone.", filepath.Join(dir, markerFile), err)))
			continue
		}
		owner[name] = m.Addr
		resp.Objects = append(resp.Objects, providers.Object{Addr: m.Addr, State: state, Managed: true, ID: dir})
	}
	for _, inst := range req.Desired {
		name, ok := stringAttr(inst.Config, "name")
		if !ok {
			continue
		}
		if a, marked := owner[name]; marked && a == inst.Addr {
			continue
		} else if marked {
			resp.Diagnostics = append(resp.Diagnostics, warnDiag("Image directory marked with another address",
				fmt.Sprintf("%s belongs to rigplan's %s, but the configuration now gives its name to %s. rigplan does not move objects between addresses: give %s another name, or remove %s from the configuration first.", p.dest(name), a, inst.Addr, inst.Addr, a)))
		}
		if _, err := os.Lstat(p.dest(name)); err != nil {
			continue
		}
		null := cty.NullVal(p.types.source)
		resp.Objects = append(resp.Objects, providers.Object{
			Addr: inst.Addr, Managed: false, ID: p.dest(name),
			State: p.state(name, null, cty.NullVal(p.types.build), "", ""),
		})
	}
	return resp
}

// stateFromMarker is the state of a marked image directory. An image
// whose root filesystem or layout is missing (removed by hand) has an
// empty digest, so that plan updates it.
func (p *Provider) stateFromMarker(name string, m *marker) (cty.Value, error) {
	source, build, err := m.config(p.types)
	if err != nil {
		return cty.NilVal, err
	}
	digest := m.Digest
	if !complete(p.dest(name)) {
		digest = ""
	}
	return p.state(name, source, build, m.SourceDigest, digest), nil
}

// complete reports whether an image directory holds both its root
// filesystem and its layout.
func complete(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, rootfsDir))
	if err != nil || !st.IsDir() {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, layoutDir, "index.json"))
	return err == nil
}
