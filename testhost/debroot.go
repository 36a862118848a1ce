package testhost

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// The systemd flavour's root: a Debian directory built by debootstrap once
// per recipe and cached on the host, outside any work tree.
const (
	// envCache moves the cache of built roots (default defaultCache).
	envCache     = "RIGPLAN_TESTHOST_CACHE"
	defaultCache = "/var/cache/rigplan"
	// debianMirror is where debootstrap downloads from. Not part of the
	// recipe: any mirror serves the same packages.
	debianMirror = "http://deb.debian.org/debian"
	// stage0Path is where the first init is installed inside the root.
	stage0Path = "/usr/local/sbin/rigplan-testhost-init"
	// buildTimeout bounds one build; a test binary's own deadline may end
	// it sooner.
	buildTimeout = 20 * time.Minute
)

// stage0 is the root's first init: it mounts the boot directory and runs
// the init script rendered there (systemd.sh.tmpl).
//
//go:embed systemd-stage0.sh
var stage0 string

// debRecipe is everything that decides what the cached root holds. Its key
// names the cache directory, so any change to it builds a new root and
// never reuses one built from another recipe.
type debRecipe struct {
	suite    string   // Debian release
	variant  string   // debootstrap --variant
	packages []string // debootstrap --include
	release  string   // the UML kernel release whose modules are copied in
	modules  string   // the host directory holding them (not in the key)
	stage0   string   // the first init's text
}

// systemdRecipe is the systemd flavour's root for the UML kernel release
// whose modules are in modules.
func systemdRecipe(release, modules string) debRecipe {
	return debRecipe{
		suite:   "bookworm",
		variant: "minbase",
		packages: []string{
			// systemd as PID 1, machined and systemd-nspawn@.service
			"systemd", "systemd-sysv", "systemd-container", "dbus",
			// what rigplan drives on a runner host
			"lvm2", "thin-provisioning-tools", "xfsprogs", "btrfs-progs", "e2fsprogs",
			"kmod", "iproute2", "util-linux",
			// a static binary to make tiny machines of
			"busybox-static",
		},
		release: release,
		modules: modules,
		stage0:  stage0,
	}
}

// recipeFormat changes whenever build changes what it makes of a recipe.
const recipeFormat = "1"

// key is a short hash of the recipe, for the cache directory's name.
func (r debRecipe) key() string {
	pkgs := slices.Clone(r.packages)
	slices.Sort(pkgs)
	h := sha256.New()
	for _, f := range []string{recipeFormat, r.suite, r.variant, strings.Join(pkgs, ","), r.release, r.stage0} {
		fmt.Fprintf(h, "%d:%s\n", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// cacheDir is where built roots are kept.
func cacheDir() string {
	if d := os.Getenv(envCache); d != "" {
		return filepath.Clean(d)
	}
	return defaultCache
}

// rootDir is where the recipe's root is, once built.
func (r debRecipe) rootDir(cache string) string {
	return filepath.Join(cache, "testhost-systemd-"+r.key())
}

// rootBuilder makes a root in dir, which exists and is empty, writing what
// its commands print to log.
type rootBuilder func(ctx context.Context, dir string, log io.Writer) error

// ensureRoot returns root, building it first when it does not exist. The
// build happens in a temporary directory beside it that is renamed into
// place when complete, so a root that exists is whole; an exclusive flock
// on root.lock makes test binaries starting together build it once (the
// others wait, then use it). A build that died leaves its temporary
// directory behind; the next build removes it. Progress and the time the
// build took go to out.
func ensureRoot(ctx context.Context, root string, build rootBuilder, out io.Writer) (string, error) {
	if isDir(root) {
		return root, nil
	}
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return "", fmt.Errorf("creating the test host cache: %w", err)
	}
	unlock, err := lockFile(ctx, root+".lock", func() {
		fmt.Fprintf(out, "testhost: waiting for another test binary to finish building %s\n", root)
	})
	if err != nil {
		return "", err
	}
	defer unlock()
	if isDir(root) {
		return root, nil // built while we waited
	}
	stale, _ := filepath.Glob(root + ".build-*")
	for _, s := range stale {
		if err := removeBuild(s); err != nil {
			return "", fmt.Errorf("removing the remains of an interrupted build: %w", err)
		}
	}
	tmp := fmt.Sprintf("%s.build-%d", root, os.Getpid())
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", fmt.Errorf("creating the test host's build directory: %w", err)
	}
	logPath := root + ".log"
	log, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("creating the test host's build log: %w", err)
	}
	defer log.Close()

	fmt.Fprintf(out, "testhost: building the systemd test host's root %s (once per recipe; log: %s)\n", root, logPath)
	start := time.Now()
	if err := build(ctx, tmp, log); err != nil {
		removeBuild(tmp)
		return "", fmt.Errorf("building the systemd test host's root (log: %s): %w", logPath, err)
	}
	if err := os.Rename(tmp, root); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("moving the built test host root into place: %w", err)
	}
	took := time.Since(start).Round(time.Second)
	fmt.Fprintf(log, "built in %v\n", took)
	fmt.Fprintf(out, "testhost: built the systemd test host's root in %v\n", took)
	return root, nil
}

// lockFile takes an exclusive flock on path, calling waiting once if
// another process holds it. The lock goes with the process, however it
// ends.
func lockFile(ctx context.Context, path string, waiting func()) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the lock %s: %w", path, err)
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !told {
			waiting()
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock %s: %w", path, context.Cause(ctx))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// removeBuild removes an unfinished root, first unmounting what a killed
// debootstrap left mounted in it (its /proc and /sys), so that removing
// it never reaches into those.
func removeBuild(dir string) error {
	if info, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		if mounts, err := parseMountInfo(info); err == nil {
			for i := len(mounts) - 1; i >= 0; i-- {
				if t := mounts[i].target; t == dir || strings.HasPrefix(t, dir+"/") {
					if err := unmount(t); err != nil {
						return err
					}
				}
			}
		}
	}
	return os.RemoveAll(dir)
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// build makes the recipe's root in dir: debootstrap, the UML kernel's
// modules where modprobe looks for them, and the first init.
func (r debRecipe) build(ctx context.Context, dir string, log io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	err := runLogged(ctx, log, "debootstrap",
		"--variant="+r.variant, "--include="+strings.Join(r.packages, ","),
		r.suite, dir, debianMirror)
	if err != nil {
		// debootstrap's own log names the package or download that failed.
		return fmt.Errorf("%w%s", err, fileTail(filepath.Join(dir, "debootstrap", "debootstrap.log"), 15))
	}
	mods := filepath.Join(dir, "usr", "lib", "modules", r.release)
	if err := os.MkdirAll(filepath.Dir(mods), 0o755); err != nil {
		return err
	}
	if err := runLogged(ctx, log, "cp", "-a", r.modules, mods); err != nil {
		return err
	}
	if err := runLogged(ctx, log, "chroot", dir, "depmod", r.release); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, stage0Path), []byte(r.stage0), 0o755); err != nil {
		return fmt.Errorf("installing the first init: %w", err)
	}
	// Downloaded packages and package lists: nothing the tests need.
	for _, glob := range []string{"var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_*"} {
		files, _ := filepath.Glob(filepath.Join(dir, glob))
		for _, f := range files {
			os.Remove(f)
		}
	}
	return nil
}

// runLogged runs a build command with its output going to log; its error
// names the command and quotes the end of what it printed.
func runLogged(ctx context.Context, log io.Writer, name string, args ...string) error {
	fmt.Fprintf(log, "+ %s %s\n", name, strings.Join(args, " "))
	var tail tailBuffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = io.MultiWriter(log, &tail)
	cmd.Stderr = cmd.Stdout
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	// Its own process group, killed whole when the context ends: debootstrap
	// leaves dpkg and friends running otherwise.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, exec.ErrNotFound):
		return fmt.Errorf("%s is not installed", name)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w; it printed last:\n%s", name, context.Cause(ctx), indentLines(tail.lines(15)))
	default:
		return fmt.Errorf("%s: %w; it printed last:\n%s", name, err, indentLines(tail.lines(15)))
	}
}

// tailBuffer keeps the last few KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	const keep = 8 << 10
	t.b = append(t.b, p...)
	if len(t.b) > keep {
		t.b = append(t.b[:0], t.b[len(t.b)-keep:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) lines(n int) []string {
	return lastN(strings.Split(strings.TrimRight(string(t.b), "\n"), "\n"), n)
}

// fileTail is the last n lines of a file, introduced and indented, or ""
// when it cannot be read.
func fileTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	return fmt.Sprintf("\nlast lines of %s:\n%s", path, indentLines(lastN(strings.Split(strings.TrimRight(string(b), "\n"), "\n"), n)))
}
