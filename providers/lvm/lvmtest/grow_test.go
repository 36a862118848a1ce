package lvmtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/bytesize"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/testhost"
)

// one declares a group, a pool and a single volume.
func (e *env) one(fs, size string) {
	e.want("volume_group.main", "volume_group", map[string]cty.Value{"name": str(vg), "devices": strs(e.disks[0])})
	e.want("thin_pool.cache", "thin_pool", map[string]cty.Value{"volume_group": str(vg), "name": str("cache"), "size": str("2G")})
	e.want("volume.data", "volume", map[string]cty.Value{
		"thin_pool": str(vg + "/cache"), "name": str("data"), "size": str(size), "filesystem": str(fs),
	})
}

func TestGrowMountedAndUnmounted(t *testing.T) {
	for _, fs := range []string{"xfs", "ext4", "btrfs"} {
		t.Run(fs, func(t *testing.T) {
			e := newEnv(t)
			e.one(fs, "300M")
			e.mustConverge()
			dev := "/dev/" + vg + "/data"

			dir := e.mount(dev)
			if err := os.WriteFile(filepath.Join(dir, "keep"), []byte("cache contents"), 0o644); err != nil {
				t.Fatal(err)
			}
			before := fsSize(t, dir)
			e.one(fs, "400M")
			e.mustConverge() // online, through the mount point
			e.assertNoDiff()
			mounted := fsSize(t, dir)
			if mounted <= before+50*bytesize.MiB {
				t.Errorf("mounted grow: filesystem %s → %s", bytesize.Human(before), bytesize.Human(mounted))
			}
			e.umount(dir)

			e.one(fs, "500M")
			e.mustConverge() // through a temporary private mount
			e.assertNoDiff()
			dir = e.mount(dev)
			after := fsSize(t, dir)
			if after <= mounted+50*bytesize.MiB {
				t.Errorf("unmounted grow: filesystem %s → %s", bytesize.Human(mounted), bytesize.Human(after))
			}
			if got, err := os.ReadFile(filepath.Join(dir, "keep")); err != nil || string(got) != "cache contents" {
				t.Errorf("file after two grows: %q, %v", got, err)
			}
			if lv := lvsJSON(t, e, "-o", "lv_size", vg+"/data")[0]; lv["lv_size"] != "524288000" {
				t.Errorf("LV size %s, want 500M", lv["lv_size"])
			}
		})
	}
}

// failing makes the filesystem grow fail once, as a full disk or a killed
// rigplan would, so that the volume is extended but its filesystem is not.
type failing struct {
	sysexec.Runner
	name string
	done bool
}

func (f *failing) Run(ctx context.Context, c sysexec.Cmd) (sysexec.Result, error) {
	if !f.done && c.Name == f.name {
		f.done = true
		return sysexec.Result{}, &sysexec.Error{Cmd: c, ExitCode: 1, Stderr: "injected failure", Err: errors.New("exit status 1")}
	}
	return f.Runner.Run(ctx, c)
}

func TestInterruptedGrowIsFinishedByTheNextApply(t *testing.T) {
	k := testhost.Kernel(t)
	e := newEnvWith(t, k.Disks(), &failing{Runner: sysexec.Host{}, name: "unshare"})
	e.one("xfs", "300M")
	// The create's owner step runs in a temporary mount too: the injected
	// failure hits it after lvcreate and mkfs, and the half-made volume
	// must be removed again.
	mustContain(t, e.converge(), "injected failure", "was removed again")
	if _, ok := e.refresh()["volume.data"]; ok {
		t.Fatal("a half-made volume was left behind")
	}
	if lvs := lvsJSON(t, e, "-o", "lv_name", vg); len(lvs) != 1 {
		t.Fatalf("LVs after the failed create: %v, want only the pool", lvs)
	}
	e.mustConverge()
	e.run.(*failing).done = false

	e.one("xfs", "400M")
	mustContain(t, e.converge(), "injected failure", "next apply tries again")
	// LVM says 400M, but the filesystem is still 300M: refresh must say
	// so, or nothing would ever finish the grow.
	if lv := lvsJSON(t, e, "-o", "lv_size", vg+"/data")[0]; lv["lv_size"] != "419430400" {
		t.Fatalf("LV size %s, want 400M", lv["lv_size"])
	}
	if got := e.refresh()["volume.data"].State.GetAttr("size").AsString(); got != "300M" {
		t.Errorf("refresh reports size %s after the failed grow, want 300M", got)
	}
	resp, prior := e.plan("volume.data")
	if resp.Planned.RawEquals(prior) || len(resp.RequiresReplace) > 0 {
		t.Errorf("the next plan does not grow in place: replace %v", resp.RequiresReplace)
	}
	e.mustConverge()
	e.assertNoDiff()
	dir := e.mount("/dev/" + vg + "/data")
	// statfs does not count xfs's internal log, but no 300M filesystem
	// reaches 300M.
	if size := fsSize(t, dir); size <= 300*bytesize.MiB {
		t.Errorf("filesystem is %s after the retried grow to 400M", bytesize.Human(size))
	}
}
