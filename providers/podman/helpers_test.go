package podman

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// podmanStorage is one podman storage for the whole test binary (made in
// TestMain when podman is installed), so that the host's own images are
// never touched and builds share their cache.
var podmanStorage []string

func TestMain(m *testing.M) {
	code := func() int {
		if _, err := exec.LookPath("podman"); err != nil || os.Geteuid() != 0 {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "rigplan-podman-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		podmanStorage = []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run")}
		defer func() {
			// Unmount what podman may still have mounted, then remove.
			exec.Command("podman", append(podmanStorage, "system", "reset", "--force")...).Run()
			os.RemoveAll(dir)
		}()
		return m.Run()
	}()
	os.Exit(code)
}

// requirePodman skips a test that builds images when podman is missing,
// saying which package provides it.
func requirePodman(t *testing.T) {
	t.Helper()
	requireRoot(t)
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman is not installed: apt-get install podman (the Debian package CI installs from .ci/debian-packages)")
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: unpacking an image sets file owners")
	}
}

// harness runs a provider against a temporary image directory the way the
// planner does: refresh, plan, apply.
type harness struct {
	t        *testing.T
	p        *Provider
	dir      string // the image directory
	progress *bytes.Buffer
}

func newHarness(t *testing.T, mod func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, dir: filepath.Join(t.TempDir(), "images"), progress: &bytes.Buffer{}}
	opts := Options{Dir: h.dir, PodmanArgs: podmanStorage, Progress: h.progress}
	if mod != nil {
		mod(&opts)
	}
	h.p = New(sysexec.Host{}, opts)
	return h
}

func addr(name string) schema.Address {
	return schema.Address{Type: typeImage, Name: name}
}

// config builds an image block's decoded value: name plus source or build
// (nil for none), computed attributes null.
func (h *harness) config(name string, source string, build map[string]cty.Value) cty.Value {
	ty := h.p.res.ImpliedType()
	vals := map[string]cty.Value{}
	for n, at := range ty.AttributeTypes() {
		vals[n] = cty.NullVal(at)
	}
	vals["name"] = cty.StringVal(name)
	if source != "" {
		vals["source"] = cty.StringVal(source)
	}
	if build != nil {
		b := map[string]cty.Value{
			"containerfile": cty.StringVal("Containerfile"),
			"args":          cty.MapValEmpty(cty.String),
			"target":        cty.NullVal(cty.String),
			"isolation":     cty.StringVal("chroot"),
			"timeout":       cty.StringVal("10m"),
		}
		for k, v := range build {
			b[k] = v
		}
		vals["build"] = cty.ObjectVal(b)
	}
	return cty.ObjectVal(vals)
}

// refresh returns the object refresh reports for a, if any.
func (h *harness) refresh(a schema.Address, config cty.Value) *providers.Object {
	h.t.Helper()
	resp := h.p.Refresh(context.Background(), &providers.RefreshRequest{Desired: []providers.Instance{{Addr: a, Config: config}}})
	noErrors(h.t, "refresh", resp.Diagnostics)
	for i := range resp.Objects {
		if resp.Objects[i].Addr == a {
			return &resp.Objects[i]
		}
	}
	return nil
}

// plan plans a against what refresh finds.
func (h *harness) plan(a schema.Address, config cty.Value) (*providers.PlanResponse, cty.Value) {
	h.t.Helper()
	prior := cty.NullVal(h.p.res.ImpliedType())
	if o := h.refresh(a, config); o != nil && o.Managed {
		prior = o.State
	}
	return h.p.Plan(context.Background(), &providers.PlanRequest{Addr: a, Config: config, Prior: prior}), prior
}

// apply plans and applies a, failing the test on any error.
func (h *harness) apply(a schema.Address, config cty.Value) cty.Value {
	h.t.Helper()
	resp, err := h.tryApply(a, config)
	noErrors(h.t, "apply", resp.Diagnostics)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.New
}

// tryApply plans and applies a and returns the apply's response.
func (h *harness) tryApply(a schema.Address, config cty.Value) (*providers.ApplyResponse, error) {
	h.t.Helper()
	pr, prior := h.plan(a, config)
	if pr.Diagnostics.HasErrors() {
		return &providers.ApplyResponse{Diagnostics: pr.Diagnostics}, nil
	}
	action := providers.Update
	if prior.IsNull() {
		action = providers.Create
	}
	return h.p.Apply(context.Background(), &providers.ApplyRequest{Addr: a, Action: action, Prior: prior, Planned: pr.Planned}), nil
}

// destroy deletes a.
func (h *harness) destroy(a schema.Address, config cty.Value) {
	h.t.Helper()
	o := h.refresh(a, config)
	if o == nil {
		h.t.Fatalf("%s not found to delete", a)
	}
	resp := h.p.Apply(context.Background(), &providers.ApplyRequest{Addr: a, Action: providers.Delete, Prior: o.State, Planned: cty.NullVal(h.p.res.ImpliedType())})
	noErrors(h.t, "delete", resp.Diagnostics)
	if !resp.New.IsNull() {
		h.t.Errorf("state after delete = %#v, want null", resp.New)
	}
}

// entries lists the image directory, hidden entries included, so that
// leftovers of a failed apply show.
func (h *harness) entries() []string {
	h.t.Helper()
	es, err := os.ReadDir(h.dir)
	if err != nil && !os.IsNotExist(err) {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}

func noErrors(t *testing.T, what string, diags hcl.Diagnostics) {
	t.Helper()
	if diags.HasErrors() {
		t.Fatalf("%s: %s", what, diagText(diags))
	}
}

// diagText renders diagnostics for assertions and failure messages.
func diagText(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "%s: %s\n", d.Summary, d.Detail)
	}
	return b.String()
}

func attr(v cty.Value, name string) string {
	a := v.GetAttr(name)
	if a.IsNull() || !a.IsKnown() {
		return fmt.Sprintf("<%s>", a.GoString())
	}
	return a.AsString()
}
