package lvm

import (
	"context"
	"slices"
	"testing"

	"github.com/rigplan/rigplan/internal/sysexec"
)

func TestTempMountScriptIsValidShell(t *testing.T) {
	if _, err := (sysexec.Host{}).Run(context.Background(), sysexec.Cmd{Name: "sh", Args: []string{"-n", "-c", tempMountScript}}); err != nil {
		t.Fatal(err)
	}
}

func TestMkfsNeverForces(t *testing.T) {
	for _, fs := range []string{"xfs", "ext4", "btrfs"} {
		c := mkfsCmd(fs, "/dev/vg/lv", []string{"-L", "cache"})
		if c.Name != "mkfs."+fs || c.Args[len(c.Args)-1] != "/dev/vg/lv" || slices.Contains(c.Args, "-f") || slices.Contains(c.Args, "-F") {
			t.Errorf("%s: %s", fs, c)
		}
	}
	if mountOptions("xfs") != "nouuid" || mountOptions("ext4") != "" {
		t.Error("temporary mounts of xfs need nouuid (thin snapshots share the UUID), others no options")
	}
}
