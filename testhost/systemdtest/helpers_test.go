package systemdtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/internal/sysexec"
)

// run runs a command inside the test host and fails the test if it fails.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	start := time.Now()
	out, err := tryRun(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start).Round(time.Millisecond)
	if short := strings.TrimSpace(out); short != "" && len(short) < 300 {
		// Short answers go into the log too: they are what was checked.
		t.Logf("%s %s (%v): %s", name, strings.Join(args, " "), took, short)
	} else {
		t.Logf("%s %s (%v)", name, strings.Join(args, " "), took)
	}
	return out
}

func tryRun(name string, args ...string) (string, error) {
	res, err := sysexec.Host{}.Run(context.Background(), sysexec.Cmd{Name: name, Args: args, Timeout: 2 * time.Minute})
	return string(res.Stdout), err
}

// show reads unit properties with systemctl show, as a map.
func show(t testing.TB, unit string, props ...string) map[string]string {
	t.Helper()
	out := run(t, "systemctl", "show", unit, "--property", strings.Join(props, ","))
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	return got
}

// writeFile writes a file, creating its directory, and removes it when
// the test ends (the root is a per-boot layer, but the next test in this
// boot should not find it).
func writeFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
}

// waitInactive waits for unit to stop by itself. The bound only keeps a
// hung unit from hanging the test; nothing is measured.
func waitInactive(t testing.TB, unit string) map[string]string {
	t.Helper()
	for end := time.Now().Add(2 * time.Minute); ; {
		p := show(t, unit, "ActiveState", "SubState", "Result", "ExecMainStatus", "ExecMainCode")
		if p["ActiveState"] == "inactive" || p["ActiveState"] == "failed" {
			return p
		}
		if time.Now().After(end) {
			t.Fatalf("%s is still %s/%s after two minutes", unit, p["ActiveState"], p["SubState"])
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// journal is what unit logged in this boot, for a failure message.
func journal(unit string) string {
	out, err := tryRun("journalctl", "--boot", "--unit", unit, "--no-pager", "--output", "short-monotonic")
	if err != nil {
		return fmt.Sprintf("(journalctl failed: %v)", err)
	}
	return "journal of " + unit + ":\n" + out
}
