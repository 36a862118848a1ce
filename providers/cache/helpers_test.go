package cache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/rigplan/rigplan/internal/fsutil"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/internal/systemd/standin"
	"github.com/rigplan/rigplan/providers/providertest"
	"github.com/rigplan/rigplan/schema"
)

// ci is the address most tests use.
var ci = schema.Address{Type: typeCache, Name: "ci"}

// testExecutable is where the tests' rigplan binary is, under the root.
const testExecutable = "/usr/local/bin/rigplan"

// env is a provider on a temporary root, with a scripted systemctl run
// through a real sysexec runner.
type env struct {
	// Harness drives the provider as the planner does (Config, Refresh,
	// Prior, Plan, Converge).
	providertest.Harness
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
	return &env{Harness: providertest.Harness{T: t, P: p}, t: t, root: root, fake: fake, p: p}
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
