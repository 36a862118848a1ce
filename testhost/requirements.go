package testhost

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/rigplan/rigplan/internal/sysexec"
)

// Where Debian's user-mode-linux package puts the kernel and its modules.
const (
	umlKernel     = "/usr/bin/linux.uml"
	umlModulesDir = "/usr/lib/uml/modules"
)

// systemPath is where init looks for programs. The host's root is the test
// kernel's root, so a tool found here on the host is found inside too; the
// caller's own PATH does not matter (a non-root user's PATH often lacks sbin).
var systemPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// tool is a program the harness itself runs inside the test kernel, and the
// Debian package to install when it is missing. Programs the tests need
// (mkfs.xfs, thin_check …) are the tests' business.
type tool struct {
	names []string // any one of them will do
	pkg   string
}

var harnessTools = []tool{
	{[]string{"lvm"}, "lvm2"},
	{[]string{"dmsetup"}, "dmsetup"},
	{[]string{"modprobe"}, "kmod"},
	{[]string{"wipefs"}, "util-linux"},
	{[]string{"blockdev"}, "util-linux"},
	{[]string{"losetup"}, "mount"},
	{[]string{"mountpoint"}, "util-linux"},
	{[]string{"stty"}, "coreutils"},
	{[]string{"poweroff", "busybox"}, "busybox-static"},
}

// hostFacts is what the requirement check reads from the machine, gathered
// in one place so the check itself is a pure function.
type hostFacts struct {
	goos string
	euid int
	// exists reports whether a path exists.
	exists func(path string) bool
	// release asks the UML kernel binary for its release ("6.1.176").
	release func() (string, error)
	// readFile reads a small file, e.g. modules.dep.
	readFile func(path string) ([]byte, error)
}

// realHostFacts reads this machine.
func realHostFacts(ctx context.Context) hostFacts {
	return hostFacts{
		goos: runtime.GOOS,
		euid: os.Geteuid(),
		exists: func(p string) bool {
			_, err := os.Stat(p)
			return err == nil
		},
		release:  func() (string, error) { return kernelRelease(ctx, umlKernel) },
		readFile: os.ReadFile,
	}
}

// kernelRelease runs `linux.uml --version`, which prints the release and
// exits without booting.
func kernelRelease(ctx context.Context, kernel string) (string, error) {
	res, err := sysexec.Host{}.Run(ctx, sysexec.Cmd{Name: kernel, Args: []string{"--version"}, Timeout: 20 * time.Second})
	if err != nil {
		return "", err
	}
	rel := strings.TrimSpace(string(res.Stdout))
	if rel == "" || strings.ContainsAny(rel, " /\n") {
		return "", fmt.Errorf("%s --version printed %q, not a kernel release", kernel, rel)
	}
	return rel, nil
}

// checkHost decides whether the test kernel can run here. It returns the
// boot configuration when it can, and otherwise every missing requirement,
// each saying what to do ("needs root", "needs user-mode-linux: apt-get
// install user-mode-linux").
func checkHost(f hostFacts) (bootConfig, []string) {
	if f.goos != "linux" {
		return bootConfig{}, []string{"needs Linux (the test kernel is User-Mode Linux)"}
	}
	var missing []string
	if f.euid != 0 {
		missing = append(missing, "needs root (the test kernel uses the host's / as its root, and the tests drive LVM and mounts): run go test as root")
	}
	cfg := hostRootConfig()
	missing = append(missing, checkUML(f, &cfg)...)
	pkgs := map[string]bool{}
	var absent []string
	for _, tl := range harnessTools {
		if findTool(f.exists, tl.names...) == "" && !pkgs[tl.pkg] {
			pkgs[tl.pkg] = true
			absent = append(absent, tl.pkg)
		}
	}
	if len(absent) > 0 {
		missing = append(missing, fmt.Sprintf("needs %s: apt-get install %s", strings.Join(absent, ", "), strings.Join(absent, " ")))
	}
	if len(missing) > 0 {
		return bootConfig{}, missing
	}
	return cfg, nil
}

// findTool returns the first of names found in systemPath, or "".
func findTool(exists func(string) bool, names ...string) string {
	for _, n := range names {
		for _, dir := range systemPath {
			if p := filepath.Join(dir, n); exists(p) {
				return p
			}
		}
	}
	return ""
}

// checkUML finds the UML kernel's release and modules for cfg, or says
// what is missing.
func checkUML(f hostFacts, cfg *bootConfig) []string {
	if !f.exists(umlKernel) {
		return []string{"needs user-mode-linux: apt-get install user-mode-linux"}
	}
	rel, err := f.release()
	if err != nil {
		return []string{fmt.Sprintf("needs a working %s (%v): reinstall user-mode-linux", umlKernel, err)}
	}
	cfg.release = rel
	cfg.modules = filepath.Join(umlModulesDir, rel)
	if dep, err := f.readFile(filepath.Join(cfg.modules, "modules.dep")); err != nil || !strings.Contains(string(dep), "/dm-thin-pool.ko") {
		return []string{fmt.Sprintf("needs the UML kernel's modules with dm-thin-pool in %s: apt-get install --reinstall user-mode-linux", cfg.modules)}
	}
	return nil
}
