package nspawn

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/internal/fsutil"
	"github.com/rigplan/rigplan/internal/ociimage/ocitest"
	"github.com/rigplan/rigplan/providers"
)

// staticBusybox finds a statically linked busybox (Debian's
// busybox-static), the whole of the test machine's image.
func staticBusybox(t *testing.T) []byte {
	t.Helper()
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		static := true
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				static = false
			}
		}
		f.Close()
		if static {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Skip("no statically linked busybox (Debian package busybox-static)")
	return nil
}

// TestNspawnReadsSettings applies the original setup's machine (with a
// probe command instead of booting) to a temporary root, then runs the
// real systemd-nspawn on the unpacked root with the .nspawn file rigplan
// wrote, as trusted settings next to the machine's directory. The probe
// shows that nspawn took every key (no "Unknown key"), used the private
// user range, put a volatile overlay over the root (a write in the
// machine never reaches the tree on the host) and bound the socket
// directory read-only. ReadOnly=yes itself is not observable under
// Volatile=overlay: nspawn mounts the tree read-only as the overlay's
// lower layer either way.
func TestNspawnReadsSettings(t *testing.T) {
	requireRoot(t)
	nspawnBin, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		t.Skip("systemd-nspawn is not installed (Debian package systemd-container)")
	}
	busybox := staticBusybox(t)
	e := newEnv(t)
	dir := filepath.Join(e.root, layoutPath)
	ocitest.WriteLayout(t, dir, ocitest.Layer(t,
		ocitest.Dir("bin", 0o755), ocitest.File("bin/busybox", string(busybox), 0o755), ocitest.Symlink("bin/sh", "busybox"),
		ocitest.Dir("etc", 0o755), ocitest.File("etc/os-release", "ID=probe\n", 0o644),
		ocitest.Dir("run", 0o755), ocitest.Dir("tmp", 0o1777), ocitest.Dir("usr", 0o755), ocitest.Dir("var/log/journal", 0o755),
	))
	sock := t.TempDir() // a host path, bound into the machine
	e.mkdir(sock)
	hcl := strings.Replace(originalHCL, `bind_read_only = ["/run/rigplan-cache"]`,
		`bind_read_only = ["`+sock+`:/run/rigplan-cache"]
  network = "none"
  environment = { PROBE = "two words" }
  command = ["/bin/sh", "-c", "cat /proc/self/uid_map; grep -E \" / | /run/rigplan-cache \" /proc/mounts; echo \"env=$PROBE\" \\\\ end; echo \"back\\\\slash\"; touch /etc/written && echo wrote"]`, 1)
	cfg := e.Config(runner, hcl)
	if a := e.MustConverge(runner, cfg); a != providers.Create {
		t.Fatalf("apply: %v", a)
	}
	machine := filepath.Join(e.root, machineDir)
	settings, err := os.ReadFile(filepath.Join(e.root, settingsPath))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(machine+".nspawn", settings, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nspawnBin, "--register=no", "--keep-unit", "--settings=trusted", "-D", machine, "-M", "github-runner")
	out, err := cmd.CombinedOutput()
	text := strings.ReplaceAll(string(out), "\r", "") // the console is a pty
	if err != nil {
		t.Fatalf("systemd-nspawn failed: %v\n%s", err, text)
	}
	for _, bad := range []string{"Unknown key", "Unknown section", "Failed to parse", "ignoring"} {
		if strings.Contains(text, bad) {
			t.Errorf("systemd-nspawn did not take the settings file (%q):\n%s", bad, text)
		}
	}
	for what, re := range map[string]string{
		"the private user range":      `(?m)^\s*0\s+570097664\s+131072$`,
		"a volatile overlay root":     `(?m)^overlay / overlay .*lowerdir=` + regexp.QuoteMeta(machine),
		"the read-only socket bind":   `(?m)^\S+ /run/rigplan-cache \S+ ro[,\s]`,
		"the environment, unsplit":    `(?m)^env=two words \\ end$`,
		"a backslash in a word":       `(?m)^back\\slash$`,
		"a write to the root":         `(?m)^wrote$`,
		"the user range it announced": `base 570097664 and range 131072`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("the machine does not show %s (%s):\n%s\nsettings:\n%s", what, re, text, settings)
		}
	}
	// The write went to the volatile overlay, not to the image's tree.
	if ok, _ := fsutil.Exists(filepath.Join(machine, "etc/written")); ok {
		t.Error("a write in the machine reached its root on the host: the overlay is not volatile")
	}
}
