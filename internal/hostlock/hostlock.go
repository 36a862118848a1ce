// Package hostlock serialises rigplan runs on one host with flock(2).
//
// apply and destroy change LVM, systemd units and GitHub runners; two of
// them at once would interleave half-made changes, and a plan refreshed
// during an apply would show a state that is about to change. So apply
// holds an exclusive lock and read-only commands a shared one. flock is
// released by the kernel when the holder exits, however it exits, so a
// crashed apply never leaves the host locked.
package hostlock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultPath is the host-wide lock file. /run is a tmpfs cleared at boot,
// which is right: no process survives a reboot to hold a lock.
const DefaultPath = "/run/rigplan/lock"

// Lock is a held lock. It is not safe for concurrent use.
type Lock struct {
	file      *os.File
	path      string
	exclusive bool
}

// Polling bounds for a busy lock: flock has no timeout and a blocked flock
// cannot be interrupted by a context, so Acquire retries a non-blocking
// flock, backing off up to maxPoll, which keeps a waiting rigplan cheap
// and still quick to notice the release.
const (
	minPoll = 10 * time.Millisecond
	maxPoll = 250 * time.Millisecond
)

// Acquire takes the lock at path, creating the file (mode 0644) and its
// directory (0755) if needed. exclusive is for commands that change the
// host (apply, destroy); any number of shared holders (plan, validate
// against the host) may run together, but never alongside an exclusive one.
//
// While the lock is busy Acquire waits until ctx is done and then returns
// a *HeldError naming the holder; it always tries at least once, so a ctx
// that is already done means "don't wait". An exclusive holder records
// its pid and command line in the file for that message.
func Acquire(ctx context.Context, path string, exclusive bool) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create the directory of lock file %s: %w; run rigplan as root, or give a lock path it may write", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w; run rigplan as root, or give a lock path it may write", path, err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for wait := minPoll; ; wait = min(2*wait, maxPoll) {
		err := flock(f, how|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w; keep the lock file on a local file system such as /run", path, err)
		}
		select {
		case <-ctx.Done():
			held := &HeldError{Path: path, Cause: ctx.Err()}
			held.Holder, held.known = readHolder(path)
			f.Close()
			return nil, held
		case <-time.After(wait):
		}
	}
	l := &Lock{file: f, path: path, exclusive: exclusive}
	if exclusive {
		if err := writeHolder(f, currentHolder()); err != nil {
			l.Release()
			return nil, fmt.Errorf("record the holder in lock file %s: %w", path, err)
		}
	}
	return l, nil
}

// Release drops the lock. An exclusive holder first empties the file, so
// that a later waiter never names a holder that has finished. Calling
// Release again does nothing.
func (l *Lock) Release() error {
	if l == nil || l.file == nil {
		return nil
	}
	f := l.file
	l.file = nil
	var errs []error
	if l.exclusive {
		if err := f.Truncate(0); err != nil {
			errs = append(errs, fmt.Errorf("clear lock file %s: %w", l.path, err))
		}
	}
	if err := flock(f, unix.LOCK_UN); err != nil {
		errs = append(errs, fmt.Errorf("unlock %s: %w", l.path, err))
	}
	if err := f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close lock file %s: %w", l.path, err))
	}
	return errors.Join(errs...)
}

// Path is the lock file this lock holds.
func (l *Lock) Path() string { return l.path }

// flock retries on EINTR, which a signal to the process can cause.
func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// HeldError reports that another process held the lock until the caller's
// context ran out. errors.Is(err, context.DeadlineExceeded) works on it.
type HeldError struct {
	// Path is the lock file.
	Path string
	// Holder is the exclusive holder recorded in the file; zero when the
	// lock is shared, or the record is stale or unreadable.
	Holder Holder
	// Cause is the context's error.
	Cause error
	known bool
}

// Error names the holder when known, and tells the user to wait: the
// lock is never stale (the kernel drops it with its holder), so removing
// the file is never the fix.
func (e *HeldError) Error() string {
	if e.known {
		return fmt.Sprintf("another rigplan (pid %d, `%s`) holds the lock %s; wait for it to finish", e.Holder.PID, e.Holder.Command, e.Path)
	}
	return fmt.Sprintf("another rigplan holds the lock %s (a shared lock, e.g. a plan, or a holder that is just starting); wait for it to finish", e.Path)
}

// Unwrap returns the context's error.
func (e *HeldError) Unwrap() error { return e.Cause }
