package testhost

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// systemdBootMount is where the first init (systemd-stage0.sh) mounts the
// boot directory inside the systemd test host.
const systemdBootMount = runDir + "/boot"

// envCI is set by CI runners (GitHub Actions, this project's .ci/run):
// there a missing requirement fails the tests instead of skipping them,
// since CI installs everything they need.
const envCI = "CI"

// systemdConfig is the flavour with a cached Debian root and systemd as
// PID 1. release, modules and root are filled in by checkSystemdHost.
func systemdConfig() bootConfig {
	cfg := hostRootConfig()
	cfg.readOnly = true
	cfg.init = stage0Path
	cfg.template = "systemd.sh.tmpl"
	cfg.bootMount = systemdBootMount
	// Booting takes 20 to 60 seconds on a busy two-CPU machine.
	cfg.startTimeout = 5 * time.Minute
	for _, unit := range idleUnits {
		cfg.args = append(cfg.args, "systemd.mask="+unit)
	}
	return cfg
}

// idleUnits have nothing to do in a test host, yet each would cost the
// boot a process or a timer firing in the middle of a test. They are
// masked on the kernel command line, where systemd-debug-generator masks
// them all in one go.
var idleUnits = []string{
	"getty.target",                      // no consoles to log in on
	"lvm2-monitor.service",              // monitoring is off (lvm.conf.tmpl)
	"modprobe@drm.service",              // no graphics
	"modprobe@efi_pstore.service",       // no EFI
	"systemd-binfmt.service",            // no foreign binaries
	"proc-sys-fs-binfmt_misc.automount", // (its filesystem)
	"e2scrub_reap.service",              // no ext4 metadata snapshots to reap
	"apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
	"e2scrub_all.timer", "fstrim.timer",
}

// checkSystemdHost decides whether the systemd test host can boot here,
// with its root cached under cache, like checkHost. debootstrap is needed
// only while the recipe's root is not built yet.
func checkSystemdHost(f hostFacts, cache string) (bootConfig, []string) {
	if f.goos != "linux" {
		return bootConfig{}, []string{"needs Linux (the test kernel is User-Mode Linux)"}
	}
	var missing []string
	if f.euid != 0 {
		missing = append(missing, "needs root (debootstrap builds the test host's root, and the tests inside drive systemd, LVM and mounts): run go test as root")
	}
	cfg := systemdConfig()
	if m := checkUML(f, &cfg); len(m) > 0 {
		missing = append(missing, m...)
	} else {
		cfg.root = systemdRecipe(cfg.release, cfg.modules).rootDir(cache)
		if c := cmdlineUnsafe(cfg.root); c != "" {
			missing = append(missing, fmt.Sprintf("needs a test host cache directory without %q, which cannot go on the test kernel's command line: set %s to a plain path (it is %s)", c, envCache, cache))
		} else if !f.exists(cfg.root) && findTool(f.exists, "debootstrap") == "" {
			missing = append(missing, "needs debootstrap (to build the test host's root, once): apt-get install debootstrap")
		}
	}
	if len(missing) > 0 {
		return bootConfig{}, missing
	}
	return cfg, nil
}

// MainSystemd is TestMain for a package whose tests need systemd as PID 1
// (systemctl, machined, systemd-nspawn@.service) on a real kernel:
//
//	func TestMain(m *testing.M) { os.Exit(testhost.MainSystemd(m)) }
//
// It works as Main does, but boots a cached Debian root with systemd, and
// builds that root first if this recipe's is not in the cache yet (a few
// minutes, once per host; see the package documentation). The tests run
// in a service started once the system has reached multi-user.target.
func MainSystemd(m *testing.M, opts ...Option) int {
	return mainFlavour(m, flavour{
		opts:  opts,
		check: func(f hostFacts) (bootConfig, []string) { return checkSystemdHost(f, cacheDir()) },
		prepare: func(ctx context.Context, cfg bootConfig, out io.Writer) error {
			r := systemdRecipe(cfg.release, cfg.modules)
			_, err := ensureRoot(ctx, cfg.root, r.build, out)
			return err
		},
	})
}

// SystemdHost returns the test kernel when the test runs inside the
// systemd test host that MainSystemd booted: systemd is PID 1, the system
// has reached multi-user.target, and machined, systemd-nspawn and LVM are
// there. The scratch disks and their cleanup are Kernel's; what a test
// writes into the root (units, /var/lib/machines) is gone at the next boot.
//
// Outside, it skips the test naming what is missing, except under CI (the
// CI variable set), where it fails it: CI installs everything. It fails
// the test when the package's TestMain does not use MainSystemd.
func SystemdHost(t testing.TB) *K {
	t.Helper()
	if _, ok := insideBoot(); !ok {
		_, missing := checkSystemdHost(realHostFacts(context.Background()), cacheDir())
		if len(missing) > 0 {
			msg := "testhost: " + strings.Join(missing, "; ")
			if os.Getenv(envCI) != "" {
				t.Fatal(msg + " (under CI, where everything the tests need is installed, this is a failure: see .ci/debian-packages)")
			}
			t.Skip(msg)
		}
		t.Fatal("testhost: the systemd test host can run here but this test is not inside it: " +
			"the package needs func TestMain(m *testing.M) { os.Exit(testhost.MainSystemd(m)) }")
	}
	if !systemdBooted() {
		t.Fatal("testhost: this test needs systemd as PID 1, but runs in the test kernel testhost.Main boots: " +
			"the package needs func TestMain(m *testing.M) { os.Exit(testhost.MainSystemd(m)) }")
	}
	return Kernel(t)
}

// systemdBooted reports whether systemd is PID 1, the way sd_booted(3)
// tells.
func systemdBooted() bool {
	return isDir("/run/systemd/system")
}

// inside is where a file of the boot directory is seen inside the test
// kernel.
func (c bootConfig) inside(file string) string {
	if c.bootMount == "" {
		return file
	}
	return path.Join(c.bootMount, filepath.Base(file))
}

// PrepareSystemdRoot builds the systemd test host's cached root if this
// recipe's is not there yet, and returns its directory. MainSystemd does
// the same on demand; CI calls this first, in the background, so that the
// download and unpacking overlap the build and the other test packages
// instead of delaying the last ones (`go run ./testhost/sandbox
// -prepare-systemd-root`).
func PrepareSystemdRoot(ctx context.Context, out io.Writer) (string, error) {
	cfg, missing := checkSystemdHost(realHostFacts(ctx), cacheDir())
	if len(missing) > 0 {
		return "", fmt.Errorf("testhost: %s", strings.Join(missing, "; "))
	}
	return ensureRoot(ctx, cfg.root, systemdRecipe(cfg.release, cfg.modules).build, out)
}
