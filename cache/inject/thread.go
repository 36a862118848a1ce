package inject

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// namespaces holds the leader's user and mount namespaces, opened while
// the leader was checked to be the machine's, and its uid map, to name
// uids in messages as the machine sees them.
type namespaces struct {
	user, mnt int
	uids      idMap
}

func openNamespaces(m Machine) (*namespaces, error) {
	if err := checkLeader(m); err != nil {
		return nil, err
	}
	ns := &namespaces{user: -1, mnt: -1}
	var err error
	if ns.user, err = unix.Open(procPath("/proc", m.Leader, "ns/user"), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return nil, fmt.Errorf("machine %q: open its user namespace: %w", m.Name, err)
	}
	if ns.mnt, err = unix.Open(procPath("/proc", m.Leader, "ns/mnt"), unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		ns.close()
		return nil, fmt.Errorf("machine %q: open its mount namespace: %w", m.Name, err)
	}
	if ns.uids, err = readIDMap(procPath("/proc", m.Leader, "uid_map")); err != nil {
		ns.close()
		return nil, fmt.Errorf("machine %q: %w", m.Name, err)
	}
	// The leader might have exited and its pid been reused since the check
	// above: check again now that the namespaces are held.
	if err := checkLeader(m); err != nil {
		ns.close()
		return nil, err
	}
	return ns, nil
}

func (ns *namespaces) close() {
	for _, fd := range []int{ns.user, ns.mnt} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// unlessGone returns err, unless the machine died: then an ErrNotRunning
// error wrapping it. A step that failed because the machine went away
// under it (its namespaces released, its tree unmounted) is the client's
// business ("machine gone"), not the agent's own failure.
func unlessGone(m Machine, err error) error {
	if err == nil || errors.Is(err, ErrNotRunning) {
		return err
	}
	var gone *reasonError
	if errors.As(checkLeader(m), &gone) && gone.kind == ErrNotRunning {
		return &reasonError{kind: ErrNotRunning, msg: gone.msg, err: err}
	}
	return err
}

// inMountNamespace runs fn on a throw-away OS thread that has joined the
// mount namespace mntns, with a descriptor for that namespace's root.
// With who set, the thread then acts with who's credentials only
// (becomeRequester); without, with the agent's.
func inMountNamespace(mntns int, who *Cred, fn func(root int) error, fail func(step string, err error) error) error {
	return onThrowawayThread(func() error {
		// setns(CLONE_NEWNS) refuses a thread that shares its filesystem
		// information (root, cwd, umask) with others, as every Go thread
		// does.
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return fail("unshare CLONE_FS", err)
		}
		unix.Umask(0o022)
		if err := unix.Setns(mntns, unix.CLONE_NEWNS); err != nil {
			return fail("setns to the machine's mount namespace", err)
		}
		root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail("open the machine's root", err)
		}
		defer unix.Close(root)
		if who != nil {
			if err := becomeRequester(*who); err != nil {
				return fail(fmt.Sprintf("take the requester's credentials (host uid %d)", who.UID), err)
			}
		}
		return fn(root)
	})
}

// onThrowawayThread runs fn on a new goroutine locked to an OS thread that
// dies when fn returns (the goroutine exits still locked), so whatever fn
// changes about its thread (namespaces, root, working directory,
// credentials) never reaches another goroutine.
//
// That thread must not be the main thread: Go never lets the main thread
// die (it parks it instead), and /proc/self names the main thread, so a
// namespace changed there would change what /proc/self/mountinfo shows the
// whole process. A goroutine that lands on the main thread keeps it locked
// (so nothing else can get it), runs fn on a nested goroutine, which must
// then get another thread, and gives the main thread back untouched.
func onThrowawayThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			errc <- onThrowawayThread(fn)
			runtime.UnlockOSThread()
			return
		}
		errc <- fn()
	}()
	return <-errc
}
