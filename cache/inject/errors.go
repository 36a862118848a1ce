package inject

import "errors"

// Sentinels for errors.Is, so the agent can tell a client's mistake (answer
// with the reason and keep serving) from its own failure (log it loudly).
// The error text itself is the reason to show the client.
var (
	// ErrRefused: the peer is not a process of a declared, running machine.
	ErrRefused = errors.New("peer refused")
	// ErrBadPath: the mount path is not acceptable for this machine and
	// requester (not absolute or clean, outside the allowed prefixes, a
	// symlink on the way inside the machine, a missing parent, not a
	// directory, already a mount point, another user's directory, out of
	// the requester's reach or not its to create, on another mount than
	// the machine's root).
	ErrBadPath = errors.New("bad mount path")
	// ErrNotRunning: the machine is not running, or its leader exited (or
	// its pid now belongs to another process).
	ErrNotRunning = errors.New("machine not running")
	// ErrNotMounted: Unmount found no mount at the path.
	ErrNotMounted = errors.New("not mounted")
)

// reasonError carries a message meant for the client and the sentinel that
// classifies it; err, when set, is the system error behind it.
type reasonError struct {
	kind error
	msg  string
	err  error
}

func (e *reasonError) Error() string { return e.msg }

func (e *reasonError) Is(target error) bool { return target == e.kind }

func (e *reasonError) Unwrap() error { return e.err }

func refused(msg string) error { return &reasonError{kind: ErrRefused, msg: msg} }

func badPath(msg string, err error) error { return &reasonError{kind: ErrBadPath, msg: msg, err: err} }

func notRunning(msg string, err error) error {
	return &reasonError{kind: ErrNotRunning, msg: msg, err: err}
}
