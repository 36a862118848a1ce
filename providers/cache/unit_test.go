package cache

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/internal/golden"
)

func TestRenderUnit(t *testing.T) {
	addr := mustAddr(t, `cache.ci["arm64"]`)
	for name, st := range map[string]agent.StoreFile{
		"lvm.service":   {Type: "lvm", Default: "banana/friend-default"},
		"btrfs.service": {Type: "btrfs", Dir: "/srv/cache/snapshots", Default: "/srv/cache/default"},
	} {
		spec := unitSpec{addr: addr, executable: "/usr/local/bin/rigplan", configFile: "/etc/rigplan/cache/ci-arm64.json"}
		storeOrdering(&spec, st)
		b := renderUnit(spec)
		golden.Check(t, filepath.Join("testdata", name), b)
		u := parseUnit(b)
		if !u.marked || u.addrErr != nil || u.addr != addr || u.executable != "/usr/local/bin/rigplan" {
			t.Errorf("%s does not read back: %+v", name, u)
		}
	}
}

func TestParseUnit(t *testing.T) {
	tests := []struct {
		name, text string
		marked     bool
		addr       string
		addrErr    bool
		exe        string
	}{
		{"hand-made", "[Service]\nExecStart=/usr/local/bin/lvm-cache-friend.py\n", false, "", false, "/usr/local/bin/lvm-cache-friend.py"},
		{"mark not on the first line", "\n# rigplan:managed cache.ci\n", false, "", false, ""},
		{"mark", "# rigplan:managed cache.ci\n[Service]\n  ExecStart=/opt/rigplan cache serve -config /x.json\n", true, "cache.ci", false, "/opt/rigplan"},
		{"mark with a bad address", "# rigplan:managed cache..ci\n", true, "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := parseUnit([]byte(tt.text))
			if u.marked != tt.marked || (u.addrErr != nil) != tt.addrErr || u.executable != tt.exe {
				t.Errorf("got %+v", u)
			}
			if tt.addr != "" && u.addr.String() != tt.addr {
				t.Errorf("addr %s, want %s", u.addr, tt.addr)
			}
		})
	}
}

func TestUnitNames(t *testing.T) {
	p := New(nil, Options{})
	ps := p.pathsFor("ci-arm64")
	if ps.unit != "rigplan-cache-ci-arm64.service" || ps.unitFile != "/etc/systemd/system/rigplan-cache-ci-arm64.service" ||
		ps.configFile != "/etc/rigplan/cache/ci-arm64.json" {
		t.Errorf("%+v", ps)
	}
	if n, ok := nameFromUnit(ps.unit); !ok || n != "ci-arm64" {
		t.Errorf("nameFromUnit(%s) = %q %v", ps.unit, n, ok)
	}
	for _, other := range []string{"rigplan-cache-.service", "rigplan-cache-ci.socket", "ssh.service"} {
		if _, ok := nameFromUnit(other); ok {
			t.Errorf("nameFromUnit(%s) accepted", other)
		}
	}
}

// TestUnitPassesSystemdAnalyzeVerify has systemd's own parser check the
// rendered units: an unknown key or a bad value is reported on stderr.
// systemd-analyze verify works without systemd as PID 1.
func TestUnitPassesSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	exe, err := exec.LookPath("true") // verify checks that ExecStart's program exists
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var files []string
	for name, st := range map[string]agent.StoreFile{
		"rigplan-cache-lvm.service":   {Type: "lvm", Default: "banana/friend-default"},
		"rigplan-cache-btrfs.service": {Type: "btrfs", Dir: "/srv/cache/snapshots", Default: "/srv/cache/default"},
	} {
		spec := unitSpec{addr: ci, executable: exe, configFile: "/etc/rigplan/cache/ci.json"}
		storeOrdering(&spec, st)
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, renderUnit(spec), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, analyze, append([]string{"verify"}, files...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, stderr.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.Contains(line, "rigplan-cache-") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}

// TestBadUnitFailsSystemdAnalyzeVerify shows that the check above can
// fail: systemd-analyze reports an unknown key in a unit.
func TestBadUnitFailsSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	f := filepath.Join(t.TempDir(), "rigplan-cache-bad.service")
	if err := os.WriteFile(f, []byte("[Service]\nType=notify\nExecStart=/bin/sh -c true\nKillMode=gently\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(analyze, "verify", f).CombinedOutput()
	if !strings.Contains(string(out), "rigplan-cache-bad.service:4") {
		t.Errorf("systemd-analyze did not report line 4:\n%s", out)
	}
}
