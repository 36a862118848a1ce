package cache

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/fsutil"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/internal/systemd/standin"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// ci is the address most tests use.
var ci = schema.Address{Type: typeCache, Name: "ci"}

// testExecutable is where the tests' rigplan binary is, under the root.
const testExecutable = "/usr/local/bin/rigplan"

// env is a provider on a temporary root, with a scripted systemctl run
// through a real sysexec runner.
type env struct {
	t    *testing.T
	root string
	fake *standin.Fake
	p    *Provider
}

func newEnv(t *testing.T) *env {
	t.Helper()
	root := t.TempDir()
	exe := filepath.Join(root, testExecutable)
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	fake := standin.New(t, root)
	p := New(sysexec.Refuse{Reason: "the cache provider runs commands only through its systemd.Manager"},
		Options{Root: root, Executable: testExecutable, Systemd: fake.Manager(sysexec.Host{})})
	return &env{t: t, root: root, fake: fake, p: p}
}

// config decodes the body of cache blocks, each written as the whole
// block (`cache "ci" { ... }`), the way the loader does, and returns the
// value of the block at addr.
func (e *env) config(addr schema.Address, src string) cty.Value {
	e.t.Helper()
	v, diags := decodeConfig(e.p, addr, src)
	if diags.HasErrors() {
		e.t.Fatalf("config does not decode: %v", diags)
	}
	return v
}

// decodeConfig loads src and decodes the block of addr (literal values
// only), with every diagnostic the loader and the schema give.
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

// refresh returns what Refresh found, by address, failing on errors.
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

// prior is the managed state of addr, or null.
func (e *env) prior(addr schema.Address, config cty.Value) cty.Value {
	e.t.Helper()
	objs, _ := e.refresh(providers.Instance{Addr: addr, Config: config})
	if o, ok := objs[addr]; ok && o.Managed {
		return o.State
	}
	return cty.NullVal(e.p.schema.ImpliedType())
}

func (e *env) plan(addr schema.Address, config, prior cty.Value) *providers.PlanResponse {
	e.t.Helper()
	resp := e.p.Plan(context.Background(), &providers.PlanRequest{Addr: addr, Config: config, Prior: prior})
	if resp.Diagnostics.HasErrors() {
		e.t.Fatalf("plan: %v", resp.Diagnostics)
	}
	return resp
}

// converge refreshes, plans and applies addr's config as the planner
// would, and returns the change's action and the apply's response (nil
// for no change).
func (e *env) converge(addr schema.Address, config cty.Value) (providers.Action, *providers.ApplyResponse) {
	e.t.Helper()
	prior := e.prior(addr, config)
	planned := e.plan(addr, config, prior).Planned
	action := providers.Update
	switch {
	case prior.IsNull():
		action = providers.Create
	case prior.RawEquals(planned):
		return providers.NoOp, nil
	}
	return action, e.p.Apply(context.Background(), &providers.ApplyRequest{Addr: addr, Action: action, Prior: prior, Planned: planned})
}

// mustConverge converges and fails on errors.
func (e *env) mustConverge(addr schema.Address, config cty.Value) providers.Action {
	e.t.Helper()
	action, resp := e.converge(addr, config)
	if resp != nil && resp.Diagnostics.HasErrors() {
		e.t.Fatalf("apply: %v", resp.Diagnostics)
	}
	return action
}

// file reads a host path under the root ("" when missing).
func (e *env) file(p string) string {
	e.t.Helper()
	b, err := fsutil.ReadFile(filepath.Join(e.root, p))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func (e *env) writeFile(p, content string) {
	e.t.Helper()
	at := filepath.Join(e.root, p)
	if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(at, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// calls lists the stand-in's calls since the last reset, with the long
// show property list shortened to "show".
func (e *env) calls() []string {
	var out []string
	for _, c := range e.fake.Calls(e.t) {
		if strings.HasPrefix(c, "systemctl show ") {
			c = "systemctl show"
		}
		out = append(out, c)
	}
	e.fake.ResetCalls(e.t)
	return out
}

func hasDiag(diags hcl.Diagnostics, sev hcl.DiagnosticSeverity, text string) bool {
	for _, d := range diags {
		if d.Severity == sev && (strings.Contains(d.Summary, text) || strings.Contains(d.Detail, text)) {
			return true
		}
	}
	return false
}

// btrfsCache is a small valid configuration.
const btrfsCache = `
cache "ci" {
  machines = { "runner-1" = ["/home/runner/cache"] }
  btrfs_store {
    directory         = "/srv/cache/snapshots"
    default_subvolume = "/srv/cache/default"
  }
}
`

// lvmCache is a configuration with every block.
const lvmCache = `
cache "ci" {
  executable            = "/usr/local/bin/rigplan"
  socket                = "/run/ci-cache/socket"
  socket_directory_mode = "0711"
  commit                = "on-save"
  machines = {
    "runner-1" = ["/home/runner/cache", "/var/lib/containers"]
    "runner-2" = ["/home/runner/cache"]
  }
  lvm_store {
    default_volume = "banana/friend-default"
    tag_namespace  = "friend"
    mount_options  = ["discard"]
  }
  retention {
    keep_per_set          = 2
    max_age               = "off"
    data_high_percent     = 85.5
    data_low_percent      = 70
    metadata_high_percent = 0
    metadata_low_percent  = 0
    interval              = "off"
  }
  limits {
    max_request_bytes      = 4096
    read_timeout           = "5s"
    write_timeout          = "90s"
    request_timeout        = "1h30m"
    max_concurrent_creates = 2
    max_connections        = 8
    seal_wait              = "1m"
  }
}
`

func mustAddr(t *testing.T, s string) schema.Address {
	t.Helper()
	a, err := schema.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
