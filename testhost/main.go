package testhost

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// Main is TestMain for a package whose tests need a real kernel with
// device-mapper:
//
//	func TestMain(m *testing.M) { os.Exit(testhost.Main(m)) }
//
// On the host, when the test kernel can run (root, user-mode-linux and its
// modules, lvm2 installed), Main boots it once with scratch disks and runs
// this test binary inside with the same arguments (all -test.* flags),
// working directory and environment; it passes the inner output through
// unchanged and returns the inner exit status, or nonzero when the kernel
// crashed, hung or never reported one. When the kernel cannot run, Main runs
// the tests here and Kernel skips each test, naming what is missing.
//
// Inside the test kernel (PID 1 has prepared it), Main runs the tests.
func Main(m *testing.M) int {
	return mainFlavour(m, flavour{check: checkHost})
}

// flavour is one kind of test kernel boot, as Main and MainSystemd see it.
type flavour struct {
	// check decides whether the flavour can boot here, returning its boot
	// configuration or every missing requirement.
	check func(hostFacts) (bootConfig, []string)
	// prepare, if set, readies what the boot needs (the systemd flavour's
	// root) before the boot, within ctx.
	prepare func(ctx context.Context, cfg bootConfig, out io.Writer) error
	// opts change the boot configuration for one package's tests.
	opts []Option
}

// Option changes how the test kernel boots, for one package's tests.
type Option func(*bootConfig)

// DiskSize makes each scratch disk size bytes large (apparent size: the
// disks are sparse files), for tests whose volume groups need more than
// the default 8 GiB.
func DiskSize(size int64) Option {
	return func(c *bootConfig) { c.diskSize = size }
}

// mainFlavour runs the tests of m inside a test kernel of the flavour when
// this process is on the host, or right here when it is inside one.
func mainFlavour(m *testing.M, fl flavour) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	start := time.Now()
	if _, ok := insideBoot(); ok {
		if err := applyDeadline(os.Getenv(envDeadline), time.Now()); err != nil {
			fmt.Fprintf(os.Stdout, "testhost: %v\n", err)
			return 1
		}
		return m.Run()
	}
	if flagValue("test.list") != "" {
		return m.Run() // listing runs no test: no kernel needed
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A closed stdout must fail the write (and end the kernel, and clean
	// up) rather than kill this process with SIGPIPE and orphan the kernel.
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)
	cfg, missing := fl.check(realHostFacts(ctx))
	if len(missing) > 0 {
		return m.Run() // each Kernel(t) skips and says why
	}
	for _, o := range fl.opts {
		o(&cfg)
	}
	spec, err := thisRun(start)
	if err != nil {
		fmt.Fprintf(os.Stdout, "testhost: %v\n", err)
		return 1
	}
	if fl.prepare != nil {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if dl := spec.deadline(); !dl.IsZero() {
			pctx, cancel = context.WithDeadline(ctx, dl)
		}
		err := fl.prepare(pctx, cfg, os.Stdout)
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stdout, "testhost: %v\n", err)
			return 1
		}
	}
	code, err := boot(ctx, cfg, spec, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stdout, "testhost: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// thisRun describes how this test binary was started, to start it again
// inside the test kernel.
func thisRun(start time.Time) (runSpec, error) {
	exe, err := os.Executable()
	if err != nil {
		return runSpec{}, fmt.Errorf("finding this test binary to run it inside the test kernel: %w", err)
	}
	dir, err := os.Getwd()
	if err != nil {
		return runSpec{}, fmt.Errorf("finding the working directory: %w", err)
	}
	var timeout time.Duration
	if f := flag.Lookup("test.timeout"); f != nil {
		if g, ok := f.Value.(flag.Getter); ok {
			timeout, _ = g.Get().(time.Duration)
		}
	}
	return runSpec{
		argv:    append([]string{exe}, os.Args[1:]...),
		dir:     dir,
		env:     os.Environ(),
		timeout: timeout,
		start:   start,
	}, nil
}

// applyDeadline shortens -test.timeout inside the test kernel so that it
// expires when the outer binary's would have: booting counts against it.
func applyDeadline(deadline string, now time.Time) error {
	if deadline == "" {
		return nil
	}
	dl, err := time.Parse(time.RFC3339Nano, deadline)
	if err != nil {
		return fmt.Errorf("%s=%q is not a time: %w", envDeadline, deadline, err)
	}
	left := dl.Sub(now).Round(time.Millisecond)
	if left < time.Second {
		left = time.Second // booting ate the whole timeout: time out at once, with a trace
	}
	return flag.Set("test.timeout", left.String())
}

func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}
