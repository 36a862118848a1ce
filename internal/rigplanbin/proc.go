package rigplanbin

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is rigplan running in the background, for tests that interrupt or
// kill it half-way through an apply. It runs in a process group of its
// own, as a shell starts a job, so that Interrupt can do what Ctrl-C in a
// terminal does: signal the whole group, rigplan and whatever command it
// runs at that moment.
type Proc struct {
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{}
	err  error
}

// Start starts rigplan with args, NO_COLOR and env added to the test's
// environment (a later KEY=VALUE wins). The process is killed when the
// test ends, if it still runs.
func Start(t testing.TB, bin string, env []string, args ...string) *Proc {
	t.Helper()
	p := &Proc{done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start rigplan %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Interrupt sends SIGINT to rigplan's process group, as Ctrl-C in a
// terminal sends it to the foreground job.
func (p *Proc) Interrupt(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatalf("interrupt rigplan: %v", err)
	}
}

// Kill sends SIGKILL to rigplan alone: what the OOM killer or a power cut
// does to it, not to the command it runs.
func (p *Proc) Kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill rigplan: %v", err)
	}
}

// Pid is rigplan's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Output is what rigplan printed so far, stdout and stderr merged.
func (p *Proc) Output() string { return p.out.String() }

// Exit is how a Proc ended.
type Exit struct {
	// Code is the exit status, -1 when a signal ended the process.
	Code int
	// Signal is the signal that ended it, 0 when it exited.
	Signal syscall.Signal
	// Output is everything it printed, stdout and stderr merged.
	Output string
}

// Wait waits for rigplan to end, for at most limit (the test fails then),
// and says how it ended.
func (p *Proc) Wait(t testing.TB, limit time.Duration) Exit {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("rigplan %s still runs after %s:\n%s", strings.Join(p.cmd.Args[1:], " "), limit, p.Output())
	}
	var exit *exec.ExitError
	if p.err != nil && !errors.As(p.err, &exit) {
		t.Fatalf("rigplan %s: %v", strings.Join(p.cmd.Args[1:], " "), p.err)
	}
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	e := Exit{Code: ws.ExitStatus(), Output: p.Output()}
	if ws.Signaled() {
		e.Code, e.Signal = -1, ws.Signal()
	}
	return e
}

// Shim writes an executable shell script named name into dir, to be put
// first in PATH so that rigplan runs it instead of the real command: a
// test's way to stop rigplan at an exact step. body runs with $REAL set to
// the real command's path (as PATH finds it now) and should end with
// `exec "$REAL" "$@"` where the command is to run after all.
func Shim(t testing.TB, dir, name, body string) {
	t.Helper()
	real, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("shim for %s: %v", name, err)
	}
	script := "#!/bin/sh\nREAL=" + shellQuote(real) + "\n" + body + "\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// WaitFile waits for path to exist, for at most limit: how a shim tells
// the test that rigplan reached its step. The test fails if rigplan ends
// first, or at the limit.
func (p *Proc) WaitFile(t testing.TB, path string, limit time.Duration) {
	t.Helper()
	for end := time.Now().Add(limit); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("rigplan %s ended before %s appeared (%v):\n%s", strings.Join(p.cmd.Args[1:], " "), path, p.err, p.Output())
		default:
		}
		if time.Now().After(end) {
			t.Fatalf("waited %s for %s; rigplan printed:\n%s", limit, path, p.Output())
		}
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// lockedBuffer is a bytes.Buffer that the process's output and the test
// may use at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
