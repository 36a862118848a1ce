package nspawn

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rigplan/rigplan/internal/ociimage/ocitest"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/internal/systemd/standin"
	"github.com/rigplan/rigplan/providers/providertest"
	"github.com/rigplan/rigplan/schema"
)

var runner = schema.Address{Type: typeMachine, Name: "runner"}

// layoutPath is where the tests' image layout is, on the host.
const layoutPath = "/var/lib/rigplan/images/runner/oci"

// env is a provider on a temporary root with the systemctl stand-in and
// systemd-nspawn@.service as its template unit.
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
	return &env{Harness: providertest.Harness{T: t, P: p}, t: t, root: root, fake: fake, p: p}
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
