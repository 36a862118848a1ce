package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
)

// Listen returns the agent's listener for cfg.Socket: the socket systemd
// passed when the agent is socket-activated, else a new socket.
//
// A new socket's directory is created with cfg.SocketDirMode when
// missing, and the directory above it, when missing too, root-only: the
// directory machines bind must let their users in, the one above it keeps
// the host's users out (DefaultHostSocket). A socket file left by an
// earlier agent that died is removed, but only after checking that
// nobody listens on it, and only if it is a socket: Listen refuses to
// start beside a live agent or over another kind of file. The socket is
// made 0666, since the machines' unprivileged users connect; the agent
// checks who they are from the peer.
func Listen(cfg Config) (net.Listener, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	passed, err := activation.Listeners()
	if err != nil {
		return nil, fmt.Errorf("cache agent: sockets passed by systemd: %w", err)
	}
	if len(passed) > 0 {
		return pickPassed(passed, cfg.Socket)
	}
	return createSocket(cfg.Socket, cfg.SocketDirMode)
}

// pickPassed returns the passed unix listener bound to path, and closes
// the others.
func pickPassed(passed []net.Listener, path string) (net.Listener, error) {
	var found net.Listener
	var names []string
	for _, ln := range passed {
		if ln == nil {
			continue
		}
		if ul, ok := ln.(*net.UnixListener); ok && ln.Addr().String() == path && found == nil {
			// The unit's socket owns the file: the agent must not
			// remove it when it stops.
			ul.SetUnlinkOnClose(false)
			found = ln
			continue
		}
		names = append(names, ln.Addr().String())
		ln.Close()
	}
	if found == nil {
		return nil, fmt.Errorf("cache agent: systemd passed sockets %q but none at %s: make the socket unit's ListenStream= the cache's socket path", names, path)
	}
	return found, nil
}

// createSocket listens on a new unix socket at path.
func createSocket(path string, dirMode fs.FileMode) (net.Listener, error) {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return nil, fmt.Errorf("cache agent: create the directory above the socket's: %w", err)
		}
		if err := os.MkdirAll(dir, dirMode); err != nil {
			return nil, fmt.Errorf("cache agent: create the socket's directory: %w", err)
		}
		if err := os.Chmod(dir, dirMode); err != nil { // not limited by the umask
			return nil, fmt.Errorf("cache agent: %w", err)
		}
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("cache agent: listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("cache agent: open the socket to the machines' users: %w", err)
	}
	return ln, nil
}

// OpenToHostUsers reports whether every directory above the socket's
// lets others search it, so that any host user can connect (and be
// refused), and names the nearest such directory for the fix. A
// directory owned by root that neither its group nor others may search
// closes the way.
func OpenToHostUsers(socket string) (bool, string) {
	for dir := filepath.Dir(filepath.Dir(socket)); ; dir = filepath.Dir(dir) {
		var st syscall.Stat_t
		if err := syscall.Stat(dir, &st); err == nil && st.Uid == 0 && st.Mode&0o011 == 0 {
			return false, ""
		}
		if dir == "/" {
			return true, filepath.Dir(filepath.Dir(socket))
		}
	}
}

// removeStale removes a socket file at path that nobody listens on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cache agent: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("cache agent: %s exists and is not a socket (%v): remove it or configure another socket path", path, fi.Mode().Type())
	}
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("cache agent: another process listens on %s (a cache agent already running?): stop it first", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("cache agent: check whether %s is in use: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cache agent: remove the stale socket %s: %w", path, err)
	}
	return nil
}
