package selftest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/testhost"
)

// Each test gets clean disks, whatever the one before left behind: an active
// VG with a thin pool, a filesystem, a partition table.
func TestDisksAreCleanBetweenTests(t *testing.T) {
	ran := false
	t.Run("dirty", func(t *testing.T) {
		k := testhost.Kernel(t)
		d := k.Disks()
		run(t, "vgcreate", "dirty", d[0], d[1])
		run(t, "lvcreate", "--type", "thin-pool", "--size", "1G", "--name", "pool", "dirty")
		run(t, "lvcreate", "--thin", "--virtualsize", "2G", "--name", "vol", "dirty/pool")
		run(t, "mkfs.xfs", "-q", d[2])
		writeMBR(t, d[3])
		run(t, "mkfs.ext4", "-q", d[3]+"1")
		ran = true
	})
	if !ran {
		t.Skip("the dirty half did not run")
	}
	t.Run("clean", func(t *testing.T) {
		k := testhost.Kernel(t) // fails the test itself if the disks are not clean
		if out := run(t, "vgs", "--noheadings"); strings.TrimSpace(out) != "" {
			t.Errorf("volume groups left: %s", out)
		}
		if out := run(t, "pvs", "--noheadings"); strings.TrimSpace(out) != "" {
			t.Errorf("physical volumes left: %s", out)
		}
		if dm, _ := filepath.Glob("/sys/block/dm-*"); len(dm) > 0 {
			t.Errorf("device-mapper devices left: %v", dm)
		}
		for _, d := range k.Disks() {
			if out := run(t, "wipefs", "--no-act", d); strings.TrimSpace(out) != "" {
				t.Errorf("signatures left on %s:\n%s", d, out)
			}
			if parts, _ := filepath.Glob("/sys/block/" + filepath.Base(d) + "/" + filepath.Base(d) + "*"); len(parts) > 0 {
				t.Errorf("partitions left on %s: %v", d, parts)
			}
		}
	})
}

const leakyEnv = "SELFTEST_LEAKY"

// A test that leaks a mount and a raw device-mapper device fails, and the
// harness still cleans up after it. The leaking test runs in a child
// process of this test binary (inside the same test kernel), so that its
// failure can be observed without failing this test.
func TestLeakFailsTheLeakingTest(t *testing.T) {
	if os.Getenv(leakyEnv) != "" {
		leak(t)
		return
	}
	var k *testhost.K
	t.Run("kernel", func(t *testing.T) { k = testhost.Kernel(t) })
	if k == nil {
		t.Skip("no test kernel")
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestLeakFailsTheLeakingTest$", "-test.v", "-test.count=1", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), leakyEnv+"=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("the leaking test exited with %v, want exit status 1", err)
	}
	for _, want := range []string{
		"--- FAIL: TestLeakFailsTheLeakingTest",
		"testhost: the test leaked",
		"mount: /dev/ubda (xfs",
		"device-mapper device outside LVM: dm-",
		"(selftest-leak)",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the leaking test's output lacks %q:\n%s", want, out)
		}
	}

	// The child's cleanup verified the disks (or Kernel checks them now).
	testhost.Kernel(t)
	if dm, _ := filepath.Glob("/sys/block/dm-*"); len(dm) > 0 {
		t.Errorf("device-mapper devices left after the leaking test: %v", dm)
	}
}

func leak(t *testing.T) {
	k := testhost.Kernel(t)
	disk := k.Disks()[0]
	run(t, "mkfs.xfs", "-q", disk)
	dir, err := os.MkdirTemp("", "leak")
	if err != nil {
		t.Fatal(err)
	}
	mount(t, disk, dir)
	run(t, "dmsetup", "create", "selftest-leak", "--table", "0 2048 zero")
}

// A subtest shares its parent's disks: what the parent made is still there,
// and the parent's cleanup covers both.
func TestSubtestsShareTheParentsDisks(t *testing.T) {
	k := testhost.Kernel(t)
	run(t, "vgcreate", "parent", k.Disks()[0])
	t.Run("sub", func(t *testing.T) {
		testhost.Kernel(t)
		if out := run(t, "vgs", "--noheadings", "--options", "vg_name"); strings.TrimSpace(out) != "parent" {
			t.Errorf("the subtest sees volume groups %q, want the parent's", out)
		}
		run(t, "lvcreate", "--size", "8M", "--name", "child", "parent")
	})
	if lvs := listLVs(t, "parent"); len(lvs) != 1 {
		t.Errorf("after the subtest, parent has %v, want the subtest's LV", lvs)
	}
}
