// Package standin provides a scripted stand-in for systemctl and
// journalctl, for tests of code that drives systemd through
// systemd.Systemctl on machines where systemd is not PID 1.
//
// The stand-in is a shell script (systemctl.sh) run through a real
// sysexec runner, so the code under test runs its real command lines,
// parses real output and sees real exit statuses and stderr. It models
// only what rigplan uses: loading unit files from ROOT/etc/systemd/system,
// daemon-reload and NeedDaemonReload, enable/disable, start/restart/stop
// (optionally failing), show and a canned journal.
package standin

import (
	_ "embed"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/internal/systemd"
)

//go:embed systemctl.sh
var script string

// Fake is one stand-in systemd, with its state in a directory.
type Fake struct {
	// State is the stand-in's state directory.
	State string
	// Systemctl and Journalctl are the stand-in programs' paths.
	Systemctl, Journalctl string
}

// New writes a stand-in whose unit files live under root (a temporary
// filesystem root) into a new temporary directory.
func New(t testing.TB, root string) *Fake {
	t.Helper()
	f, err := Write(t.TempDir(), root)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Write puts a stand-in into dir: the programs in dir/bin, its state in
// dir/state. Its unit files live under root.
func Write(dir, root string) (*Fake, error) {
	f := &Fake{State: filepath.Join(dir, "state"), Systemctl: filepath.Join(dir, "bin", "systemctl"), Journalctl: filepath.Join(dir, "bin", "journalctl")}
	for _, d := range []string{f.State, filepath.Dir(f.Systemctl)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	text := strings.NewReplacer("@ROOT@", shellQuote(root), "@STATE@", shellQuote(f.State)).Replace(script)
	if err := os.WriteFile(f.Systemctl, []byte(text), 0o755); err != nil {
		return nil, err
	}
	if err := os.Symlink("systemctl", f.Journalctl); err != nil {
		return nil, err
	}
	return f, nil
}

// Manager returns a systemd.Systemctl that runs the stand-in through run.
func (f *Fake) Manager(run sysexec.Runner) systemd.Systemctl {
	return systemd.Systemctl{Run: run, Command: f.Systemctl, Journalctl: f.Journalctl}
}

// Calls lists the calls made so far, one string each, such as
// "systemctl start -- rigplan-cache-ci.service".
func (f *Fake) Calls(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.State, "calls"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// ResetCalls forgets the calls made so far.
func (f *Fake) ResetCalls(t testing.TB) {
	t.Helper()
	if err := os.Remove(filepath.Join(f.State, "calls")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

// SetActive sets a unit's ActiveState ("" for inactive), as if it had
// been started, stopped or had failed behind rigplan's back.
func (f *Fake) SetActive(t testing.TB, unit, state string) {
	t.Helper()
	p := filepath.Join(f.State, unit+".active")
	if state == "" || state == "inactive" {
		f.remove(t, p)
		return
	}
	f.write(t, p, state+"\n")
}

// SetEnabled enables or disables a unit behind rigplan's back.
func (f *Fake) SetEnabled(t testing.TB, unit string, on bool) {
	t.Helper()
	p := filepath.Join(f.State, unit+".enabled")
	if on {
		f.write(t, p, "")
	} else {
		f.remove(t, p)
	}
}

// FailStart makes every later start and restart fail, with journal as
// what journalctl then prints; FailStart("") undoes it.
func (f *Fake) FailStart(t testing.TB, journal string) {
	t.Helper()
	if journal == "" {
		f.remove(t, filepath.Join(f.State, "fail-start"))
		f.remove(t, filepath.Join(f.State, "journal"))
		return
	}
	f.write(t, filepath.Join(f.State, "fail-start"), "")
	f.write(t, filepath.Join(f.State, "journal"), journal+"\n")
}

// Down makes every later call fail as systemctl does on a machine not
// booted with systemd.
func (f *Fake) Down(t testing.TB) {
	t.Helper()
	f.write(t, filepath.Join(f.State, "down"), "")
}

func (f *Fake) write(t testing.TB, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *Fake) remove(t testing.TB, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
