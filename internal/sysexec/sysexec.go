// Package sysexec is the one seam through which rigplan runs host commands.
//
// Every command runs with a context and a timeout, in the C locale (so its
// output can be parsed), with its stderr captured and carried inside the
// error when it fails: an operator must always see what LVM, podman or
// systemd said, never a bare exit status. It runs in a process group of
// its own, out of reach of the Ctrl-C meant for rigplan (an interrupted
// apply lets its running changes finish), and a timeout kills that whole
// group.
package sysexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultTimeout bounds a command that sets no timeout of its own. It is
// generous because LVM and mkfs on a busy host can take a while, yet finite
// so that a hung command never hangs rigplan.
const DefaultTimeout = 5 * time.Minute

// Cmd is one command to run on the host.
type Cmd struct {
	// Name is the program, looked up in PATH.
	Name string
	Args []string
	// Stdin, if set, is fed to the command.
	Stdin io.Reader
	// Env is added to the environment (KEY=VALUE). LC_ALL=C is always set.
	Env []string
	// Timeout overrides DefaultTimeout when positive.
	Timeout time.Duration
	// Stream, if set, also receives stdout and stderr as the command
	// prints them (a long build's output on a terminal); both are still
	// captured in the Result and the Error.
	Stream io.Writer
}

// String renders the command line the way an operator would type it.
func (c Cmd) String() string {
	parts := make([]string, 0, len(c.Args)+1)
	parts = append(parts, c.Name)
	for _, a := range c.Args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// Result is what a command printed.
type Result struct {
	Stdout []byte
	Stderr []byte
}

// Runner runs host commands. Production code uses Host; tests of pure logic
// may substitute their own, and benchmarks wrap one in a Counter.
type Runner interface {
	Run(ctx context.Context, cmd Cmd) (Result, error)
}

// Error is returned when a command could not start, failed or timed out. Its
// message carries the command line and the command's own stderr.
type Error struct {
	Cmd      Cmd
	ExitCode int // -1 when the command did not run to an exit
	Stderr   string
	Err      error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Cmd.String())
	switch {
	case errors.Is(e.Err, exec.ErrNotFound):
		fmt.Fprintf(&b, ": %s is not installed (not found in PATH)", e.Cmd.Name)
	case errors.Is(e.Err, context.DeadlineExceeded):
		b.WriteString(": timed out")
	case e.ExitCode >= 0:
		fmt.Fprintf(&b, ": exit status %d", e.ExitCode)
	default:
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if s := strings.TrimSpace(e.Stderr); s != "" {
		b.WriteString(":\n")
		b.WriteString(indent(s))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// NotInstalled reports whether err says the command's program is missing.
func NotInstalled(err error) bool { return errors.Is(err, exec.ErrNotFound) }

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// Host runs commands for real on this machine.
type Host struct {
	// Log, if set, receives one line per command: what ran, how long it
	// took and how it ended (RIGPLAN_LOG=debug).
	Log io.Writer
}

var _ Runner = Host{}

// Run executes cmd and waits for it.
func (h Host) Run(ctx context.Context, cmd Cmd) (Result, error) {
	timeout := cmd.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	c := exec.CommandContext(ctx, cmd.Name, cmd.Args...)
	c.Env = append(append(os.Environ(), "LC_ALL=C"), cmd.Env...)
	c.Stdin = cmd.Stdin
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if cmd.Stream != nil {
		// The two pipes are copied by two goroutines: one lock keeps their
		// writes to the stream whole.
		s := &lockedWriter{w: cmd.Stream}
		c.Stdout, c.Stderr = io.MultiWriter(&stdout, s), io.MultiWriter(&stderr, s)
	}
	// A process group of its own: Ctrl-C in a terminal signals the
	// foreground group, and rigplan answers its first one by letting the
	// running changes finish (planner.Engine.Apply), which a command
	// killed by the same keystroke could not. A timeout kills the whole
	// group, so that no helper it started outlives it.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error {
		if err := syscall.Kill(-c.Process.Pid, syscall.SIGKILL); err != syscall.ESRCH {
			return err
		}
		return os.ErrProcessDone
	}
	// Give a command that ignores the kill a moment to let go of its pipes.
	c.WaitDelay = 5 * time.Second

	start := time.Now()
	err := c.Run()
	if h.Log != nil {
		fmt.Fprintf(h.Log, "rigplan: ran %s (%s): %v\n", cmd, time.Since(start).Round(time.Millisecond), errOrOK(err))
	}
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if err == nil {
		return res, nil
	}
	e := &Error{Cmd: cmd, ExitCode: -1, Stderr: stderr.String(), Err: err}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		e.Err = ctx.Err()
	case errors.As(err, &exitErr):
		e.ExitCode = exitErr.ExitCode()
	}
	return res, e
}

// lockedWriter serialises writes from a command's two output pipes.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func errOrOK(err error) any {
	if err == nil {
		return "ok"
	}
	return err
}

// Counter wraps a Runner and counts the commands run through it, so that
// benchmarks and tests can state how many host calls an operation costs.
type Counter struct {
	Runner Runner
	n      atomic.Int64
}

var _ Runner = (*Counter)(nil)

// Run counts and delegates.
func (c *Counter) Run(ctx context.Context, cmd Cmd) (Result, error) {
	c.n.Add(1)
	return c.Runner.Run(ctx, cmd)
}

// Count is the number of commands run so far.
func (c *Counter) Count() int { return int(c.n.Load()) }

// Refuse is a Runner that runs nothing. `rigplan validate` gives it to the
// providers so that "validate never touches the host" holds by construction.
type Refuse struct{ Reason string }

var _ Runner = Refuse{}

// Run always fails without running anything.
func (r Refuse) Run(_ context.Context, cmd Cmd) (Result, error) {
	return Result{}, fmt.Errorf("refusing to run %q: %s", cmd.String(), r.Reason)
}
