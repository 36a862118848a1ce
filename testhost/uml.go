package testhost

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// runSpec is what the test kernel runs: this test binary, as it was started.
type runSpec struct {
	argv    []string      // absolute path of the binary, then its arguments
	dir     string        // working directory
	env     []string      // environment, KEY=VALUE
	timeout time.Duration // its -test.timeout; 0 means none
	start   time.Time     // when it started, on the host
}

// deadline is when spec's -test.timeout expires; zero when it has none.
func (s runSpec) deadline() time.Time {
	if s.timeout <= 0 {
		return time.Time{}
	}
	return s.start.Add(s.timeout)
}

// harnessError is a failure of the harness or the test kernel rather than
// of the tests; it carries the end of the kernel console for diagnosis.
type harnessError struct {
	msg     string
	console string
	kept    string // the boot directory, when RIGPLAN_TESTHOST_KEEP kept it
}

func (e *harnessError) Error() string {
	var b strings.Builder
	b.WriteString(e.msg)
	if e.console != "" {
		b.WriteString("\nlast lines of the test kernel's console:\n")
		b.WriteString(e.console)
	}
	if e.kept != "" {
		fmt.Fprintf(&b, "\nkept the boot directory %s (%s set)", e.kept, envKeep)
	} else if e.console != "" {
		fmt.Fprintf(&b, "\n(set %s=1 to keep the whole console log)", envKeep)
	}
	return b.String()
}

// boot runs spec inside a freshly booted test kernel, copying the tests'
// output to out as it comes, and returns their exit status. An error means
// the harness or the kernel failed; the status is then nonzero as well.
func boot(ctx context.Context, cfg bootConfig, spec runSpec, out io.Writer) (int, error) {
	token, err := newToken()
	if err != nil {
		return 1, err
	}
	d, err := newBootDir(cfg)
	if err != nil {
		return 1, err
	}
	failed := true
	defer func() {
		if !failed || os.Getenv(envKeep) == "" {
			os.RemoveAll(string(d))
		}
	}()
	if err := writeInit(cfg, d, spec, token); err != nil {
		return 1, err
	}

	code, err := runKernel(ctx, cfg, d, spec, token, out)
	failed = code != 0 || err != nil
	var he *harnessError
	if errors.As(err, &he) && os.Getenv(envKeep) != "" {
		he.kept = string(d)
	}
	return code, err
}

// runKernel starts the kernel, streams the serial line to out, enforces the
// wall-clock guard and reads the exit status PID 1 left in the boot
// directory.
func runKernel(ctx context.Context, cfg bootConfig, d bootDir, spec runSpec, token string, out io.Writer) (int, error) {
	console, err := os.Create(d.consoleLog())
	if err != nil {
		return 1, fmt.Errorf("creating the test kernel's console log: %w", err)
	}
	defer console.Close()
	serialR, serialW, err := os.Pipe()
	if err != nil {
		return 1, fmt.Errorf("creating the test kernel's output pipe: %w", err)
	}
	defer serialR.Close()

	guardCtx, cancel := ctx, context.CancelFunc(func() {})
	if dl := spec.deadline(); !dl.IsZero() {
		// The inner binary panics with its goroutines at the deadline; the
		// guard only ends a kernel that cannot even do that, well before go
		// test's own kill at -test.timeout plus one minute.
		guardCtx, cancel = context.WithDeadline(ctx, dl.Add(cfg.grace))
	}
	defer cancel()
	runCtx, stop := context.WithCancelCause(guardCtx)
	defer stop(nil)

	cmd, err := startKernel(runCtx, cfg, d, token, console, serialW)
	serialW.Close()
	if err != nil {
		return 1, err
	}
	start := time.Now()
	var notStarted atomic.Bool
	if cfg.startTimeout > 0 {
		// A boot that never gets to the tests (systemd froze, or waits for
		// something that never comes) must not hold the run until the guard.
		watch := time.AfterFunc(cfg.startTimeout, func() {
			if _, err := os.Stat(d.startedFile()); err != nil {
				notStarted.Store(true)
				stop(errors.New("the tests never started"))
			}
		})
		defer watch.Stop()
	}
	// Once the tests have left their exit status, the kernel powers off.
	// Rarely UML then spins in its halt instead of exiting ("reboot:
	// System halted" on the console): give the shutdown its time, then end
	// the kernel; the tests' status stands.
	var hung atomic.Bool
	watchDone := make(chan struct{})
	defer close(watchDone)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-watchDone:
				return
			case <-tick.C:
			}
			if _, err := os.Stat(d.exitFile()); err == nil {
				break
			}
		}
		select {
		case <-watchDone:
		case <-time.After(shutdownGrace):
			hung.Store(true)
			stop(errors.New("the test kernel did not exit after the tests ended"))
		}
	}()
	tw := &tailWriter{w: out}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		if _, err := io.Copy(tw, serialR); err != nil && tw.err != nil {
			// Nobody reads the output any more (go test died, a closed
			// pipe): stop the kernel, and keep its line drained meanwhile.
			stop(tw.err)
			io.Copy(io.Discard, serialR)
		}
	}()

	waitErr := cmd.Wait()
	killGroup(cmd.Process.Pid)
	select {
	case <-copied:
	case <-time.After(10 * time.Second):
		serialR.Close() // something still holds the line; stop copying
		<-copied
	}
	tw.endLine()
	if notStarted.Load() && ctx.Err() == nil {
		return 1, &harnessError{
			msg:     fmt.Sprintf("the test kernel had not started the tests %v after it was started; killed it (PID 1 or systemd never got to them, see below)", cfg.startTimeout),
			console: consoleTail(d, 40),
		}
	}
	if hung.Load() && guardCtx.Err() == nil && ctx.Err() == nil {
		fmt.Fprintf(out, "testhost: the test kernel was still running %v after the tests ended; killed it\n", shutdownGrace)
		waitErr = nil
	}
	return verdict(ctx, guardCtx, cfg, d, spec, waitErr, tw.err, time.Since(start), out)
}

// shutdownGrace is how long the kernel may take to power off after the
// tests ended: systemd stops every unit first, each within its timeout.
const shutdownGrace = 3 * time.Minute

// verdict turns how the kernel ended into the run's exit status, and a
// harness error when the tests' own status cannot be trusted or is missing.
func verdict(ctx, guardCtx context.Context, cfg bootConfig, d bootDir, spec runSpec, waitErr, outErr error, elapsed time.Duration, out io.Writer) (int, error) {
	switch {
	case ctx.Err() != nil:
		return 1, &harnessError{msg: fmt.Sprintf("interrupted after %v; killed the test kernel", elapsed.Round(time.Second)), console: consoleTail(d, 40)}
	case guardCtx.Err() != nil:
		return 1, &harnessError{
			msg:     fmt.Sprintf("the test kernel was still running %v after -test.timeout %v; killed it (a hang in the kernel or in PID 1, see below)", cfg.grace, spec.timeout),
			console: consoleTail(d, 40),
		}
	case outErr != nil:
		return 1, fmt.Errorf("writing the tests' output failed (%w); killed the test kernel", outErr)
	}
	code, err := readExit(d.exitFile())
	if err != nil {
		return 1, &harnessError{
			msg:     fmt.Sprintf("the tests inside the test kernel never reported an exit status (%v): the kernel crashed or PID 1 failed; kernel exit: %v", err, waitErr),
			console: consoleTail(d, 40),
		}
	}
	if waitErr != nil && code == 0 {
		return 1, &harnessError{msg: fmt.Sprintf("the tests passed but the test kernel then failed: %v", waitErr), console: consoleTail(d, 40)}
	}
	if code != 0 {
		if msgs := kernelMessagesDuringTests(d, 30); msgs != "" {
			fmt.Fprintf(out, "testhost: kernel messages while the tests ran:\n%s", msgs)
		}
	}
	return code, nil
}

// startKernel starts the test kernel with its console going to console and
// its serial line 0 to serial.
func startKernel(ctx context.Context, cfg bootConfig, d bootDir, token string, console, serial *os.File) (*exec.Cmd, error) {
	var err error
	// A PID namespace of its own: the kernel's helper processes survive a
	// kill of the kernel process alone, but not the end of their namespace,
	// which comes with it even when this process is killed (Pdeathsig).
	// Where namespaces are refused, a process group is the fallback.
	for _, flags := range []uintptr{syscall.CLONE_NEWPID, 0} {
		cmd := exec.CommandContext(ctx, cfg.kernel, cfg.kernelArgs(d, token)...)
		cmd.Dir = string(d)
		cmd.Stdout, cmd.Stderr = console, console
		cmd.ExtraFiles = []*os.File{serial} // fd 3: ssl0
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Cloneflags: flags}
		cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
		cmd.WaitDelay = 10 * time.Second
		if err = cmd.Start(); err == nil {
			return cmd, nil
		}
	}
	return nil, fmt.Errorf("starting the test kernel %s: %w", cfg.kernel, err)
}

// killGroup kills the kernel's process group; it is gone already when the
// kernel powered off, which is fine.
func killGroup(pid int) error {
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

func newToken() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a boot token: %w", err)
	}
	return "rigplan-" + hex.EncodeToString(b), nil
}

// readExit reads the exit status PID 1 wrote.
func readExit(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || code < 0 || code > 255 {
		return 0, fmt.Errorf("exit status file holds %q, not a status", b)
	}
	return code, nil
}

// tailWriter passes bytes through and remembers whether the last one ended
// a line, so the harness's own messages start on a line of their own.
// A write error is kept: it means the output has nowhere to go.
type tailWriter struct {
	w    io.Writer
	last byte
	err  error
}

func (t *tailWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		t.last = p[len(p)-1]
	}
	n, err := t.w.Write(p)
	if err != nil {
		t.err = err
	}
	return n, err
}

func (t *tailWriter) endLine() {
	if t.err == nil && t.last != 0 && t.last != '\n' {
		t.Write([]byte("\n"))
	}
}
