package lvmtest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rigplan/rigplan/internal/rigplanbin"
	"github.com/rigplan/rigplan/testhost"
)

// interruptConfig is the storage of examples/lvm-cache-runner, small: a group, a
// pool, the default volume every cache starts from, and a second volume
// made after it.
const interruptConfig = `
variable "devices" {
  type = list(string)
}

volume_group "cache" {
  name    = "rpkill"
  devices = var.devices
}

thin_pool "cache" {
  volume_group    = volume_group.cache.name
  name            = "pool"
  size            = "1G"
  error_when_full = true
}

volume "default" {
  thin_pool  = thin_pool.cache.id
  name       = "default"
  size       = "300M"
  filesystem = "xfs"
  uid        = 1000
  gid        = 1000
}

volume "extra" {
  depends_on = [volume.default]
  thin_pool  = thin_pool.cache.id
  name       = "extra"
  size       = "300M"
  filesystem = "xfs"
}
`

// The LVM stack applied by the real binary and stopped twice: Ctrl-C
// while mkfs.xfs makes the default volume's filesystem (the change
// finishes, mkfs is not killed by the keystroke, the second volume is not
// started), and, with a file on the default volume, a kill between
// creating the second volume and making its filesystem (the classic
// half-made volume). The next apply converges, plan then has nothing to
// do, and the file is intact.
func TestInterruptedApplies(t *testing.T) {
	k := testhost.Kernel(t)
	work := t.TempDir()
	cfg := filepath.Join(work, "config")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "main.hcl"), []byte(interruptConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		`RIGPLAN_VAR_devices=["` + k.Disks()[0] + `"]`,
		"RIGPLAN_LOCK_FILE=" + filepath.Join(work, "lock"),
	}
	// shim puts a script in place of a command, first in PATH.
	shim := func(name, body string) []string {
		dir := filepath.Join(work, "shim-"+name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		rigplanbin.Shim(t, dir, name, body)
		return append(env[:len(env):len(env)], "PATH="+dir+":"+os.Getenv("PATH"))
	}
	e := newEnvWith(t, k.Disks(), nil)

	// Ctrl-C while mkfs.xfs makes the default volume: the shim holds mkfs
	// until the interrupt was sent, so that it runs after it for sure.
	held, proceed := filepath.Join(work, "held"), filepath.Join(work, "proceed")
	proc := rigplanbin.Start(t, rigplan, shim("mkfs.xfs", `touch `+held+`
while [ ! -e `+proceed+` ]; do sleep 0.05; done
exec "$REAL" "$@"`), "apply", "-auto-approve", cfg)
	proc.WaitFile(t, held, 2*time.Minute)
	proc.Interrupt(t)
	if err := os.WriteFile(proceed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	exit := proc.Wait(t, 2*time.Minute)
	if exit.Code != 1 || !strings.Contains(exit.Output, "Apply interrupted") || !strings.Contains(exit.Output, "volume.default: Creation complete") ||
		!strings.Contains(exit.Output, "Not applied because of the error above: volume.extra") {
		t.Fatalf("apply interrupted while mkfs ran: %+v\nwant exit 1, the default volume made and the second not started", exit)
	}
	finished(t, e, "rpkill/default")

	// A cache on it; then the second volume, killed as mkfs.xfs would
	// start: it exists, with rigplan's mark and no filesystem.
	dir := e.mount("/dev/rpkill/default")
	if err := os.WriteFile(filepath.Join(dir, "cache"), []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.umount(dir)
	proc = rigplanbin.Start(t, rigplan, shim("mkfs.xfs", `kill -KILL $PPID
exit 1`), "apply", "-auto-approve", cfg)
	if exit := proc.Wait(t, 2*time.Minute); exit.Signal != syscall.SIGKILL {
		t.Fatalf("rigplan ended before its kill point: %+v", exit)
	}
	if lv := lvsJSON(t, e, "-o", "lv_tags", "rpkill/extra"); len(lv) != 1 || !strings.Contains(lv[0]["lv_tags"], "rigplan:unfinished") {
		t.Fatalf("the second volume after the kill: %v, want it made and marked unfinished", lv)
	}
	if fs := strings.TrimSpace(e.sh("sh", "-c", "blkid -p -o value -s TYPE /dev/rpkill/extra || true")); fs != "" {
		t.Fatalf("the volume holds %s after a kill before mkfs", fs)
	}

	// The next apply's plan makes it again, in place: a replacement would
	// meet the data guard, though the volume holds nothing.
	out := rigplanbin.RunEnv(t, rigplan, env, 0, "apply", "-auto-approve", cfg)
	if !strings.Contains(out, "holds no data") || !strings.Contains(out, "Resources: 0 added, 1 changed, 0 destroyed") {
		t.Errorf("apply of the half-made volume:\n%s", out)
	}
	finished(t, e, "rpkill/extra")
	rigplanbin.RunEnv(t, rigplan, env, 0, "plan", "-detailed-exitcode", cfg)
	dir = e.mount("/dev/rpkill/default")
	if b, err := os.ReadFile(filepath.Join(dir, "cache")); err != nil || string(b) != "precious\n" {
		t.Errorf("the file on the default volume: %q, %v", b, err)
	}
}

// finished fails the test unless the volume holds xfs and its creation
// ended (its owner recorded, its unfinished mark gone).
func finished(t *testing.T, e *env, id string) {
	t.Helper()
	if fs := strings.TrimSpace(e.sh("blkid", "-p", "-o", "value", "-s", "TYPE", "/dev/"+id)); fs != "xfs" {
		t.Errorf("%s holds %q, want xfs", id, fs)
	}
	if lv := lvsJSON(t, e, "-o", "lv_tags", id); len(lv) != 1 || strings.Contains(lv[0]["lv_tags"], "unfinished") || !strings.Contains(lv[0]["lv_tags"], "rigplan:owner=") {
		t.Errorf("%s's tags: %v, want its creation finished", id, lv)
	}
}
