package nspawn

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/ociimage/ocitest"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/internal/systemd/standin"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

var runner = schema.Address{Type: typeMachine, Name: "runner"}

// layoutPath is where the tests' image layout is, on the host.
const layoutPath = "/var/lib/rigplan/images/runner/oci"

// env is a provider on a temporary root with the systemctl stand-in and
// systemd-nspawn@.service as its template unit.
type env struct {
	t    *testing.T
	root string
	fake *standin.Fake
	p    *Provider
}

func newEnv(t *testing.T) *env {
	t.Helper()
	root := t.TempDir()
	tmpl := filepath.Join(root, "lib/systemd/system/systemd-nspawn@.service")
	if err := os.MkdirAll(filepath.Dir(tmpl), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmpl, []byte("[Service]\nExecStart=systemd-nspawn --boot --settings=override --machine=%i\n[Install]\nWantedBy=machines.target\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := standin.New(t, root)
	p := New(sysexec.Refuse{Reason: "the nspawn provider runs commands only through its systemd.Manager"},
		Options{Root: root, Systemd: fake.Manager(sysexec.Host{}), PollInterval: 1})
	return &env{t: t, root: root, fake: fake, p: p}
}

// writeImage writes the image layout with files owned by root and by the
// runner user (1000), a setuid file, and returns its digest.
func (e *env) writeImage(extra ...ocitest.Entry) string {
	e.t.Helper()
	dir := filepath.Join(e.root, layoutPath)
	os.RemoveAll(dir)
	entries := []ocitest.Entry{
		ocitest.Dir("etc", 0o755),
		ocitest.File("etc/hostname", "runner\n", 0o644),
		{Name: "home/ghrunner", Type: '5', Mode: 0o750, UID: 1000, GID: 1000},
		{Name: "home/ghrunner/.profile", Mode: 0o640, Body: "x", UID: 1000, GID: 1000},
		ocitest.File("usr/bin/newuidmap", "elf", 0o4755),
	}
	return ocitest.WriteLayout(e.t, dir, ocitest.Layer(e.t, append(entries, extra...)...)).String()
}

// config decodes src (whole blocks) and returns the value at addr.
func (e *env) config(addr schema.Address, src string) cty.Value {
	e.t.Helper()
	v, diags := decodeConfig(e.p, addr, src)
	if diags.HasErrors() {
		e.t.Fatalf("config does not decode: %v", diags)
	}
	return v
}

func decodeConfig(p *Provider, addr schema.Address, src string) (cty.Value, hcl.Diagnostics) {
	reg, err := providers.NewRegistry(p)
	if err != nil {
		panic(err)
	}
	cfg, diags := schema.LoadSources("cfg", map[string][]byte{"main.hcl": []byte(src)}, reg)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	rb := cfg.ResourceBlock(addr)
	if rb == nil {
		return cty.NilVal, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "no block " + addr.String()}}
	}
	dec, d := schema.DecodeResource(rb, nil)
	diags = append(diags, d...)
	if dec == nil {
		return cty.NilVal, diags
	}
	return dec.Value, diags
}

func (e *env) refresh(desired ...providers.Instance) (map[schema.Address]providers.Object, hcl.Diagnostics) {
	e.t.Helper()
	resp := e.p.Refresh(context.Background(), &providers.RefreshRequest{Desired: desired})
	if resp.Diagnostics.HasErrors() {
		e.t.Fatalf("refresh: %v", resp.Diagnostics)
	}
	out := map[schema.Address]providers.Object{}
	for _, o := range resp.Objects {
		out[o.Addr] = o
	}
	return out, resp.Diagnostics
}

func (e *env) prior(addr schema.Address, config cty.Value) cty.Value {
	e.t.Helper()
	objs, _ := e.refresh(providers.Instance{Addr: addr, Config: config})
	if o, ok := objs[addr]; ok && o.Managed {
		return o.State
	}
	return cty.NullVal(e.p.schema.ImpliedType())
}

// converge refreshes, plans and applies as the planner would.
func (e *env) converge(addr schema.Address, config cty.Value) (providers.Action, *providers.PlanResponse, *providers.ApplyResponse) {
	e.t.Helper()
	prior := e.prior(addr, config)
	plan := e.p.Plan(context.Background(), &providers.PlanRequest{Addr: addr, Config: config, Prior: prior})
	if plan.Diagnostics.HasErrors() {
		e.t.Fatalf("plan: %v", plan.Diagnostics)
	}
	action := providers.Update
	switch {
	case prior.IsNull():
		action = providers.Create
	case prior.RawEquals(plan.Planned):
		return providers.NoOp, plan, nil
	}
	return action, plan, e.p.Apply(context.Background(), &providers.ApplyRequest{Addr: addr, Action: action, Prior: prior, Planned: plan.Planned})
}

func (e *env) mustConverge(addr schema.Address, config cty.Value) providers.Action {
	e.t.Helper()
	action, _, resp := e.converge(addr, config)
	if resp != nil && resp.Diagnostics.HasErrors() {
		e.t.Fatalf("apply: %v", resp.Diagnostics)
	}
	return action
}

func (e *env) read(hostPath string) string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, hostPath))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func (e *env) mkdir(hostPath string) {
	e.t.Helper()
	if err := os.MkdirAll(filepath.Join(e.root, hostPath), 0o755); err != nil {
		e.t.Fatal(err)
	}
}

func fileEntry(name, body string) ocitest.Entry { return ocitest.File(name, body, 0o644) }
