package inject

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Watch tells when a machine's leader exits, i.e. when the machine is gone
// and the snapshot mounted in it can be sealed or discarded.
type Watch interface {
	// File is readable once the leader has exited (a pidfd), for callers
	// that poll many watches at once.
	File() *os.File
	// Wait blocks until the leader has exited or ctx is done.
	Wait(ctx context.Context) error
	Close() error
}

// LeaderWatch is a Watch on a pidfd.
type LeaderWatch struct {
	f   *os.File
	pid int
}

var _ Watch = (*LeaderWatch)(nil)

// WatchLeader watches machine m's leader. It checks, after opening the
// pidfd, that the pid still names the leader Identify or Lookup found; if
// the machine is already gone it fails with ErrNotRunning.
func WatchLeader(m Machine) (*LeaderWatch, error) {
	w, err := WatchPID(m.Leader)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil, notRunning(fmt.Sprintf("machine %q is gone: its leader (pid %d) exited", m.Name, m.Leader), err)
		}
		return nil, fmt.Errorf("machine %q: %w", m.Name, err)
	}
	if err := checkLeader(m); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// WatchPID watches any process by pid. Prefer WatchLeader for a machine:
// a bare pid may have been reused.
func WatchPID(pid int) (*LeaderWatch, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	// A non-blocking descriptor makes a pollable os.File: Wait sleeps in
	// the runtime's poller, not on a thread.
	return &LeaderWatch{f: os.NewFile(uintptr(fd), fmt.Sprintf("pidfd:%d", pid)), pid: pid}, nil
}

// File returns the pidfd. Do not call its Fd method, which would make it
// blocking; use SyscallConn or Wait.
func (w *LeaderWatch) File() *os.File { return w.f }

// PID is the watched process's pid.
func (w *LeaderWatch) PID() int { return w.pid }

// Exited reports, without blocking, whether the process has exited.
func (w *LeaderWatch) Exited() (bool, error) {
	raw, err := w.f.SyscallConn()
	if err != nil {
		return false, err
	}
	var done bool
	var perr error
	if err := raw.Control(func(fd uintptr) { done, perr = readable(int(fd)) }); err != nil {
		return false, err
	}
	return done, perr
}

// Wait blocks until the process has exited or ctx is done.
func (w *LeaderWatch) Wait(ctx context.Context) error {
	raw, err := w.f.SyscallConn()
	if err != nil {
		return err
	}
	if err := w.f.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("wait for pid %d: %w", w.pid, err)
	}
	stop := context.AfterFunc(ctx, func() { w.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var perr error
	err = raw.Read(func(fd uintptr) bool {
		var done bool
		done, perr = readable(int(fd))
		return done || perr != nil
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		err = perr
	}
	if err != nil {
		return fmt.Errorf("wait for pid %d: %w", w.pid, err)
	}
	return nil
}

// Close releases the pidfd.
func (w *LeaderWatch) Close() error { return w.f.Close() }

// readable polls fd without blocking.
func readable(fd int) (bool, error) {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(p, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, err
		}
		return n > 0 && p[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0, nil
	}
}
