package testhost

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The contract between the outer harness, PID 1 and the inner test binary.
const (
	// envBoot carries the boot's random token to the inner test binary;
	// together with the same token on the kernel command line it says "this
	// process runs inside the test kernel this harness booted".
	envBoot = "RIGPLAN_TESTHOST_BOOT"
	// envDisks lists the scratch block devices, comma separated.
	envDisks = "RIGPLAN_TESTHOST_DISKS"
	// envDeadline is when the outer test binary's -test.timeout expires
	// (RFC 3339). Inside, Main shortens -test.timeout to match, so the time
	// the kernel took to boot counts as it would for any test binary, and
	// the inner binary's own timeout panic comes before the guard.
	envDeadline = "RIGPLAN_TESTHOST_DEADLINE"
	// envKeep keeps the per-boot directory of a failed run for inspection.
	envKeep = "RIGPLAN_TESTHOST_KEEP"
	// cmdlineToken is the kernel parameter holding the token. The dot makes
	// the kernel treat it as a module parameter: ignored, never given to init.
	cmdlineToken = "rigplan.testhost"
	// cmdlineBootDir names the boot directory on the host, for a PID 1 that
	// lives in the root rather than in the boot directory (the systemd
	// flavour's first init, which mounts it through hostfs).
	cmdlineBootDir = "rigplan.testhost.dir"
	// runDir is the harness's directory inside the test kernel, on its own
	// tmpfs: nothing there reaches the host.
	runDir = "/run/testhost"
	// serialDevice is the line PID 1 connects the tests' output to; the
	// kernel maps it to a pipe the outer harness copies to its stdout.
	serialDevice = "/dev/ttyS0"
)

// bootConfig is everything that varies between kinds of test kernel boot.
// There are two flavours: hostRootConfig, the host's / as root over hostfs
// and a rendered shell script as PID 1; and systemdConfig, a cached Debian
// directory as a read-only root under a per-boot overlay, with systemd as
// PID 1 and the tests started by a unit (see systemd.go).
type bootConfig struct {
	kernel    string        // the UML kernel binary
	release   string        // its release, e.g. "6.1.176"
	modules   string        // its modules directory (with modules.dep)
	root      string        // host directory that becomes / (hostfs)
	readOnly  bool          // mount the root read-only ("ro", not "rw")
	init      string        // PID 1 as seen inside; "" means the rendered script
	template  string        // embedded file PID 1 (or its unit) is rendered from
	bootMount string        // where the boot directory is seen inside; "" means at its host path
	mem       string        // the kernel's memory, e.g. "1G"
	disks     int           // scratch disks: ubd0… inside as /dev/ubda…
	diskSize  int64         // apparent size of each sparse disk image
	load      []string      // modules loaded at boot; modprobe adds dependencies
	grace     time.Duration // how long after -test.timeout the guard kills the kernel
	args      []string      // further kernel parameters, for PID 1
	// startTimeout, when set, ends a boot whose PID 1 has not started the
	// tests (written the boot directory's "started" file) by then.
	startTimeout time.Duration
}

// hostRootConfig is the flavour with the host's own root filesystem as the
// test kernel's root. release and modules are filled in by checkHost.
func hostRootConfig() bootConfig {
	return bootConfig{
		kernel:   umlKernel,
		root:     "/",
		template: "init.sh.tmpl",
		mem:      "1G",
		disks:    4,
		diskSize: 8 << 30,
		load:     []string{"dm-thin-pool", "dm-snapshot", "dm-zero", "loop", "overlay"},
		grace:    30 * time.Second,
	}
}

// diskDevice is the name the test kernel gives scratch disk i.
func diskDevice(i int) string {
	return "/dev/ubd" + string(rune('a'+i))
}

// bootDir is the per-boot directory on the host. The test kernel sees it
// through hostfs (at the same path, or at bootConfig.bootMount), so PID 1
// reads its script and writes the exit code there.
type bootDir string

func (d bootDir) initScript() string  { return filepath.Join(string(d), "init.sh") }
func (d bootDir) consoleLog() string  { return filepath.Join(string(d), "console.log") }
func (d bootDir) exitFile() string    { return filepath.Join(string(d), "exit") }
func (d bootDir) startedFile() string { return filepath.Join(string(d), "started") }
func (d bootDir) umlDir() string      { return filepath.Join(string(d), "uml") }
func (d bootDir) disk(i int) string   { return filepath.Join(string(d), fmt.Sprintf("disk%d.img", i)) }

func (d bootDir) validate() error {
	if c := cmdlineUnsafe(string(d)); c != "" {
		return fmt.Errorf("temporary directory %q contains %q, which cannot be passed on the test kernel's command line: set TMPDIR to a plain path", string(d), c)
	}
	return nil
}

// cmdlineUnsafe returns the first character of path that cannot go on the
// test kernel's command line, or "". The kernel splits its command line at
// spaces, ubd= at commas and colons, mount(8) splits hostfs paths at
// commas, and env(1) treats a word with '=' as an assignment.
func cmdlineUnsafe(path string) string {
	if i := strings.IndexAny(path, " \t\n,:=\"'\\"); i >= 0 {
		return path[i : i+1]
	}
	return ""
}

// newBootDir creates the per-boot directory with sparse disk images.
func newBootDir(cfg bootConfig) (bootDir, error) {
	name, err := os.MkdirTemp("", "rigplan-testhost-")
	if err != nil {
		return "", fmt.Errorf("creating the test kernel's temporary directory: %w", err)
	}
	d := bootDir(name)
	if err := d.validate(); err != nil {
		os.RemoveAll(name)
		return "", err
	}
	for i := 0; i < cfg.disks; i++ {
		if err := makeSparse(d.disk(i), cfg.diskSize); err != nil {
			os.RemoveAll(name)
			return "", err
		}
	}
	return d, nil
}

func makeSparse(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("creating scratch disk image: %w", err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return fmt.Errorf("sizing scratch disk image %s (its filesystem must support sparse files): %w", path, err)
	}
	return f.Close()
}

// kernelArgs is the test kernel's command line for one boot.
func (c bootConfig) kernelArgs(d bootDir, token string) []string {
	init := c.init
	if init == "" {
		init = d.initScript()
	}
	rw := "rw"
	if c.readOnly {
		rw = "ro"
	}
	args := []string{
		"mem=" + c.mem,
		"rootfstype=hostfs", "rootflags=" + c.root, rw,
		"init=" + init,
		// Kernel and PID 1 messages: console 0 → linux.uml's stdout → console.log.
		"con=null", "con0=null,fd:1", "printk.time=1",
		// The tests' output: serial line 0 → fd 3, a pipe to the harness.
		"ssl=null", "ssl0=null,fd:3",
		// UML's pid file and management socket stay in the boot directory.
		"uml_dir=" + d.umlDir(), "umid=" + token,
		cmdlineToken + "=" + token,
	}
	if c.init != "" {
		args = append(args, cmdlineBootDir+"="+string(d))
	}
	args = append(args, c.args...)
	for i := 0; i < c.disks; i++ {
		args = append(args, fmt.Sprintf("ubd%d=%s", i, d.disk(i)))
	}
	return args
}

// diskDevices lists the scratch disks as the test kernel names them.
func (c bootConfig) diskDevices() []string {
	var devs []string
	for i := 0; i < c.disks; i++ {
		devs = append(devs, diskDevice(i))
	}
	return devs
}
