package hostlock

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests lock from two real processes: the test binary re-executes
// itself as a helper (TestMain) that takes the lock, says "locked", and
// holds it until its stdin closes. flock locks belong to open files, so
// only a second process shows what a second rigplan would see.

const (
	envMode = "HOSTLOCK_TEST_HELPER" // "exclusive" or "shared"
	envPath = "HOSTLOCK_TEST_PATH"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envMode); mode != "" {
		os.Exit(helperMain(mode, os.Getenv(envPath)))
	}
	os.Exit(m.Run())
}

// helperMain is the helper process. It gives up after a minute so that a
// failed test never leaves it behind.
func helperMain(mode, path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := Acquire(ctx, path, mode == "exclusive")
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("locked")
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	if err := l.Release(); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	return 0
}

// helper is a running helper process holding the lock.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startHelper runs a helper that holds the lock at path, with argv
// "rigplan apply" so that its recorded command reads like a real one, and
// returns once it holds the lock.
func startHelper(t *testing.T, path string, exclusive bool) *helper {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	mode := "shared"
	if exclusive {
		mode = "exclusive"
	}
	cmd := &exec.Cmd{Path: exe, Args: []string{"rigplan", "apply"},
		Env: append(os.Environ(), envMode+"="+mode, envPath+"="+path)}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, stdin: stdin}
	t.Cleanup(func() {
		h.cmd.Process.Kill() // no-op error if it already exited
		h.cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper did not take the lock: %q %v", line, err)
	}
	return h
}

// release makes the helper drop the lock and waits for it to exit.
func (h *helper) release(t *testing.T) {
	t.Helper()
	h.stdin.Close()
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("helper failed: %v", err)
	}
}

func lockPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "run", "rigplan", "lock")
}

// acquireFor tries to take the lock for d.
func acquireFor(path string, exclusive bool, d time.Duration) (*Lock, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return Acquire(ctx, path, exclusive)
}

func TestSecondApplyTimesOutNamingTheHolder(t *testing.T) {
	path := lockPath(t)
	h := startHelper(t, path, true)
	want := fmt.Sprintf("another rigplan (pid %d, `rigplan apply`) holds the lock %s; wait for it to finish", h.cmd.Process.Pid, path)

	for _, exclusive := range []bool{true, false} {
		start := time.Now()
		l, err := acquireFor(path, exclusive, 300*time.Millisecond)
		if err == nil {
			l.Release()
			t.Fatalf("exclusive=%v: took a lock another process holds exclusively", exclusive)
		}
		if waited := time.Since(start); waited < 250*time.Millisecond {
			t.Errorf("exclusive=%v: gave up after %v, want it to wait for the context", exclusive, waited)
		}
		if err.Error() != want {
			t.Errorf("exclusive=%v: error\n %s\nwant\n %s", exclusive, err, want)
		}
		var held *HeldError
		if !errors.As(err, &held) || held.Holder.PID != h.cmd.Process.Pid || held.Holder.Command != "rigplan apply" {
			t.Errorf("exclusive=%v: error %#v does not carry the holder", exclusive, err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("exclusive=%v: error does not wrap the context's error", exclusive)
		}
	}
}

func TestSecondApplyWaitsForRelease(t *testing.T) {
	path := lockPath(t)
	h := startHelper(t, path, true)

	type result struct {
		l   *Lock
		err error
		at  time.Time
	}
	got := make(chan result, 1)
	go func() {
		l, err := acquireFor(path, true, 20*time.Second)
		got <- result{l, err, time.Now()}
	}()
	select {
	case r := <-got:
		t.Fatalf("acquired while the helper held the lock: %v", r.err)
	case <-time.After(400 * time.Millisecond):
	}
	released := time.Now()
	h.release(t)
	select {
	case r := <-got:
		if r.err != nil {
			t.Fatalf("waiting acquire failed: %v", r.err)
		}
		defer r.l.Release()
		if r.at.Before(released) {
			t.Error("acquired before the helper released")
		}
		if d := r.at.Sub(released); d > 2*time.Second {
			t.Errorf("took %v after the release to notice it", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still waiting 10s after the helper released the lock")
	}
}

func TestSharedLocks(t *testing.T) {
	path := lockPath(t)
	startHelper(t, path, false)

	l, err := acquireFor(path, false, 2*time.Second)
	if err != nil {
		t.Fatalf("a second shared lock was refused: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}

	_, err = acquireFor(path, true, 200*time.Millisecond)
	want := "another rigplan holds the lock " + path + " (a shared lock, e.g. a plan, or a holder that is just starting); wait for it to finish"
	if err == nil || err.Error() != want {
		t.Errorf("exclusive beside a shared holder: got %v, want %q", err, want)
	}
}

// TestKilledHolder checks both halves of a crash: the kernel frees the
// lock, and the record the dead holder left is not shown to the next
// waiter.
func TestKilledHolder(t *testing.T) {
	path := lockPath(t)
	h := startHelper(t, path, true)
	dead := h.cmd.Process.Pid
	h.cmd.Process.Signal(syscall.SIGKILL)
	h.cmd.Wait()

	if b, _ := os.ReadFile(path); !strings.Contains(string(b), fmt.Sprint(dead)) {
		t.Fatalf("lock file %q lost the killed holder's record; the test proves nothing", b)
	}
	startHelper(t, path, false) // a shared holder: the stale record stays
	_, err := acquireFor(path, true, 200*time.Millisecond)
	if err == nil {
		t.Fatal("exclusive lock taken beside a shared holder")
	}
	if strings.Contains(err.Error(), fmt.Sprint(dead)) {
		t.Errorf("error names the dead holder: %v", err)
	}
}

func TestLockFileAndRelease(t *testing.T) {
	old := syscall.Umask(0o022) // modes below assume the usual umask
	defer syscall.Umask(old)
	path := lockPath(t)

	l, err := acquireFor(path, true, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("lock directory mode = %v, %v; want 0755", fi.Mode().Perm(), err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("lock file mode = %v, %v; want 0644", fi.Mode().Perm(), err)
	}
	var rec Holder
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &rec); err != nil || rec.PID != os.Getpid() || rec.Command == "" || rec.Since.IsZero() {
		t.Errorf("holder record %q (%v) does not describe this process", b, err)
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("lock file still holds %q after release", b)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	l2, err := acquireFor(path, true, 0)
	if err != nil {
		t.Fatalf("lock not free after release: %v", err)
	}
	l2.Release()
}

func TestAcquireUnwritablePath(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := acquireFor(filepath.Join(blocker, "lock"), true, time.Second)
	if err == nil || !strings.Contains(err.Error(), blocker) || !strings.Contains(err.Error(), "run rigplan as root") {
		t.Errorf("error %v does not name the path and what to do", err)
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"/usr/local/bin/rigplan", "apply"}, "rigplan apply"},
		{[]string{"rigplan", "apply", "-var", "name=a b"}, `rigplan apply -var "name=a b"`},
		{[]string{"rigplan", ""}, `rigplan ""`},
		{nil, "rigplan"},
	}
	for _, tt := range tests {
		if got := commandLine(tt.args); got != tt.want {
			t.Errorf("commandLine(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}
