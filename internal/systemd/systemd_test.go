package systemd_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/internal/systemd"
	"github.com/rigplan/rigplan/internal/systemd/standin"
)

func TestParseShow(t *testing.T) {
	b, err := os.ReadFile("testdata/show-two.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := systemd.ParseShow(string(b))
	if err != nil {
		t.Fatal(err)
	}
	want := []systemd.UnitStatus{{
		ID: "rigplan-cache-ci.service", LoadState: "loaded", ActiveState: "active", SubState: "running",
		UnitFileState: "enabled", NeedDaemonReload: true,
		FragmentPath: "/etc/systemd/system/rigplan-cache-ci.service",
		DropInPaths:  []string{"/etc/systemd/system/rigplan-cache-ci.service.d/override.conf"},
		InvocationID: "6c0ef3d6b0e54d0f8f6f3a1b2c3d4e5f",
	}, {
		ID: "rigplan-cache-gone.service", LoadState: "not-found", ActiveState: "inactive", SubState: "dead",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if !got[0].Loaded() || !got[0].Active() || got[1].Loaded() || got[1].Active() {
		t.Errorf("Loaded/Active wrong: %+v", got)
	}
}

func TestParseShowRefusesGarbage(t *testing.T) {
	for _, in := range []string{"Id=a.service\nnot a property\n", "LoadState=loaded\n"} {
		if _, err := systemd.ParseShow(in); err == nil {
			t.Errorf("ParseShow(%q) accepted it", in)
		}
	}
}

func TestEscapePath(t *testing.T) {
	for in, want := range map[string]string{
		"/dev/vg0/cache-default": `dev-vg0-cache\x2ddefault`,
		"/dev/banana/friend+1":   `dev-banana-friend\x2b1`,
		"/srv/cache/":            "srv-cache",
		"/.hidden/x":             `\x2ehidden-x`,
		"/a/.b":                  "a-.b",
		"/x_y:z.d":               "x_y:z.d",
		"/":                      "-",
	} {
		if got := systemd.EscapePath(in); got != want {
			t.Errorf("EscapePath(%q) = %q, want %q", in, got, want)
		}
	}
	if got := systemd.DeviceUnit("/dev/vg0/default"); got != "dev-vg0-default.device" {
		t.Errorf("DeviceUnit = %q", got)
	}
}

// TestEscapePathMatchesSystemd compares with systemd-escape itself, which
// works without systemd running.
func TestEscapePathMatchesSystemd(t *testing.T) {
	if _, err := exec.LookPath("systemd-escape"); err != nil {
		t.Skip("systemd-escape is not installed")
	}
	paths := []string{"/dev/vg0/cache-default", "/dev/a+b/c.d_e", "/.x/y", "/a b/ü", "/srv//cache/"}
	out, err := exec.Command("systemd-escape", append([]string{"--path"}, paths...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(out))
	for i, p := range paths {
		if got := systemd.EscapePath(p); got != want[i] {
			t.Errorf("EscapePath(%q) = %q, systemd-escape says %q", p, got, want[i])
		}
	}
}

func TestSystemctlAgainstStandIn(t *testing.T) {
	root := t.TempDir()
	fake := standin.New(t, root)
	m := fake.Manager(sysexec.Host{})
	ctx := context.Background()
	unitDir := filepath.Join(root, "etc/systemd/system")
	if err := os.MkdirAll(unitDir, 0o755); err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(unitDir, "x.service")
	if err := os.WriteFile(unit, []byte("[Service]\nExecStart=/bin/true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.DaemonReload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Enable(ctx, "x.service"); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx, "x.service"); err != nil {
		t.Fatal(err)
	}
	st, err := m.Show(ctx, "x.service", "missing.service")
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].ID != "x.service" || !st[0].Active() || st[0].UnitFileState != "enabled" || st[0].NeedDaemonReload ||
		st[1].ID != "missing.service" || st[1].Loaded() || len(st[0].InvocationID) != 32 || st[1].InvocationID != "" {
		t.Errorf("show: %+v", st)
	}

	// An edited file needs a reload.
	if err := os.WriteFile(unit, []byte("[Service]\nExecStart=/bin/false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err = m.Show(ctx, "x.service"); err != nil || !st[0].NeedDaemonReload {
		t.Errorf("after an edit: %+v, %v", st, err)
	}

	// Failures carry systemctl's message.
	fake.FailStart(t, "agent: no such volume")
	err = m.Restart(ctx, "x.service")
	var e *sysexec.Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "Job for x.service failed") {
		t.Errorf("restart: %v", err)
	}
	if j, err := m.Journal(ctx, "x.service", 5); err != nil || j != "agent: no such volume" {
		t.Errorf("journal: %q, %v", j, err)
	}
	if err := m.Stop(ctx, "missing.service"); err == nil || !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("stop of a missing unit: %v", err)
	}

	want := []string{
		"systemctl daemon-reload",
		"systemctl enable --quiet -- x.service",
		"systemctl start -- x.service",
		"systemctl show --property=Id,LoadState,ActiveState,SubState,UnitFileState,NeedDaemonReload,FragmentPath,DropInPaths,InvocationID -- x.service missing.service",
		"systemctl show --property=Id,LoadState,ActiveState,SubState,UnitFileState,NeedDaemonReload,FragmentPath,DropInPaths,InvocationID -- x.service",
		"systemctl restart -- x.service",
		"journalctl --unit=x.service --lines=5 --no-pager --quiet --output=short-iso",
		"systemctl stop -- missing.service",
	}
	if got := fake.Calls(t); !reflect.DeepEqual(got, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSystemctlWithoutSystemd(t *testing.T) {
	fake := standin.New(t, t.TempDir())
	fake.Down(t)
	_, err := fake.Manager(sysexec.Host{}).Show(context.Background(), "x.service")
	if err == nil || !strings.Contains(err.Error(), "not been booted with systemd") {
		t.Errorf("got %v", err)
	}
}
