package cachetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rigplan/rigplan/internal/rigplanbin"
	"github.com/rigplan/rigplan/testhost"
)

// killConfig is a cache agent of its own (name, socket), so that this
// test and TestServiceLifecycle leave each other alone.
const killConfig = `
cache "kill" {
  machines = {
    "runner" = ["/home/runner/cache"]
  }
  socket = "/run/rigplan-cache-kill/socket"
  btrfs_store {
    directory         = "/srv/cache/snapshots"
    default_subvolume = "/srv/cache/default"
  }
  commit = "COMMIT"
}
`

// An apply of the cache agent's service stopped twice, by the real
// binary under systemd: killed after the unit file is written and before
// systemd was told (daemon-reload), and interrupted with Ctrl-C while
// systemd restarts the agent for a changed configuration. The next apply
// starts the agent; the interrupted restart finishes, and as it was the
// last change the apply is complete and the plan after it empty. The
// store's data is untouched throughout.
func TestInterruptedServiceApply(t *testing.T) {
	const unit = "rigplan-cache-kill.service"
	btrfsStore(t, testhost.SystemdHost(t).Disks()[0])
	write(t, "/srv/cache/default/precious", "the default cache\n")
	// Stopped before the store is unmounted (cleanups run last first).
	t.Cleanup(func() { exec.Command("systemctl", "stop", unit).Run() })

	work := t.TempDir()
	cfg := filepath.Join(work, "config")
	if err := os.Mkdir(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(cfg, "main.hcl"), strings.Replace(killConfig, "COMMIT", "on-save", 1))
	shims := func(name, body string) []string {
		dir := filepath.Join(work, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		rigplanbin.Shim(t, dir, "systemctl", body)
		return []string{"PATH=" + dir + ":" + os.Getenv("PATH")}
	}

	// Killed as it would tell systemd about the files just written.
	reload := shims("reload", `if [ "$1" = daemon-reload ]; then kill -KILL $PPID; exit 1; fi
exec "$REAL" "$@"`)
	if exit := rigplanbin.Start(t, rigplan, reload, "apply", "-auto-approve", cfg).Wait(t, 2*time.Minute); exit.Signal != syscall.SIGKILL {
		t.Fatalf("rigplan ended before its kill point: %+v", exit)
	}
	for _, f := range []string{"/etc/systemd/system/" + unit, "/etc/rigplan/cache/kill.json", "/etc/rigplan/cache/kill.restart-pending"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("after the kill: %v", err)
		}
	}
	if got := showUnit(t, unit, "ActiveState"); got != "inactive" {
		t.Errorf("the agent is %s after a kill before systemd heard of it", got)
	}
	if out := rp(t, 0, "apply", "-auto-approve", cfg); !strings.Contains(out, "Apply complete!") {
		t.Errorf("apply after the kill:\n%s", out)
	}
	if got := showUnit(t, unit, "ActiveState"); got != "active" {
		t.Fatalf("the agent is %s after the apply that followed the kill", got)
	}
	before := showUnit(t, unit, "InvocationID")

	// A new configuration: Ctrl-C while systemctl restarts the agent. The
	// shim holds systemctl until the interrupt was sent, so that the
	// restart runs after it for sure.
	held, proceed := filepath.Join(work, "held"), filepath.Join(work, "proceed")
	restart := shims("restart", `if [ "$1" = restart ]; then
	touch `+held+`
	while [ ! -e `+proceed+` ]; do sleep 0.05; done
fi
exec "$REAL" "$@"`)
	write(t, filepath.Join(cfg, "main.hcl"), strings.Replace(killConfig, "COMMIT", "on-exit", 1))
	proc := rigplanbin.Start(t, rigplan, restart, "apply", "-auto-approve", cfg)
	proc.WaitFile(t, held, time.Minute)
	proc.Interrupt(t)
	write(t, proceed, "")
	exit := proc.Wait(t, 2*time.Minute)
	if exit.Code != 0 || !strings.Contains(exit.Output, "Apply complete!") {
		t.Errorf("apply interrupted during the restart, its last change: %+v\nwant it complete", exit)
	}
	if got, inv := showUnit(t, unit, "ActiveState"), showUnit(t, unit, "InvocationID"); got != "active" || inv == before {
		t.Errorf("the agent after the interrupted restart: %s, invocation %s (was %s), want active and restarted", got, inv, before)
	}
	if _, err := os.Stat("/etc/rigplan/cache/kill.restart-pending"); err == nil {
		t.Error("the restart mark is left after the restart finished")
	}
	rp(t, 0, "plan", "-detailed-exitcode", cfg)
	if b, err := os.ReadFile("/srv/cache/default/precious"); err != nil || string(b) != "the default cache\n" {
		t.Errorf("the default cache after the interrupted applies: %q, %v", b, err)
	}
}

func showUnit(t *testing.T, unit, prop string) string {
	t.Helper()
	return strings.TrimSpace(run(t, "systemctl", "show", "-P", prop, unit))
}
