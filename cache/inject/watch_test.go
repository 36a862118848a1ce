package inject_test

import (
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/inject"
	"golang.org/x/sys/unix"
)

func TestWatchPID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w, err := inject.WatchPID(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	if done, err := w.Exited(); err != nil || done {
		t.Fatalf("Exited() = %v, %v for a running process", done, err)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if err := w.Wait(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on a running process returned %v, want the context's deadline", err)
	}

	cmd.Process.Kill()
	cmd.Wait() // reaped: the pidfd must fire all the same
	if err := w.Wait(ctx); err != nil {
		t.Fatalf("Wait after the process exited: %v", err)
	}
	if done, err := w.Exited(); err != nil || !done {
		t.Errorf("Exited() = %v, %v after exit", done, err)
	}
	// The File is readable, for callers polling many watches.
	raw, err := w.File().SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	raw.Control(func(fd uintptr) {
		n, err = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
	})
	if err != nil || n != 1 {
		t.Errorf("poll on the pidfd: %d ready, %v", n, err)
	}
}

func TestWatchLeaderRefusesAReusedPID(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	// A Machine whose leader pid now belongs to another process: the start
	// time does not match.
	m := inject.Machine{Name: "gone", Leader: cmd.Process.Pid, LeaderStart: 1}
	_, err := inject.WatchLeader(m)
	mustErr(t, err, inject.ErrNotRunning, `machine "gone" is gone`, "pid now names another process")
	m.LeaderStart = 0
	_, err = inject.WatchLeader(m)
	mustErr(t, err, nil, "get the Machine from Identify or Lookup")
}
