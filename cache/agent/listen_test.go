package agent_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/protocol"
)

// shortDir is a temporary directory short enough for socket paths.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rpl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func listenConfig(socket string) agent.Config {
	return agent.Config{Socket: socket, StateDir: "/run/rigplan/cache/test", Machines: map[string][]string{"m": {"/home/runner"}}, SocketDirMode: 0o750}
}

func TestListenCreatesSocket(t *testing.T) {
	sock := filepath.Join(shortDir(t), "sub", "socket")
	ln, err := agent.Listen(listenConfig(sock))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for p, want := range map[string]os.FileMode{sock: os.ModeSocket | 0o666, filepath.Dir(sock): os.ModeDir | 0o750} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode(), err, want)
		}
	}
}

func TestListenRemovesStaleSocket(t *testing.T) {
	sock := filepath.Join(shortDir(t), "socket")
	// A socket file whose listener died without removing it, as after a
	// SIGKILL.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	ln, err := agent.Listen(listenConfig(sock))
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln.Close()
}

func TestListenRefusesLiveSocket(t *testing.T) {
	sock := filepath.Join(shortDir(t), "socket")
	live, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if ln, err := agent.Listen(listenConfig(sock)); err == nil || !strings.Contains(err.Error(), "another process listens on") {
		t.Errorf("Listen beside a live agent = %v, %v", ln, err)
	}
	// The live one still works.
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Errorf("the live socket was disturbed: %v", err)
	} else {
		c.Close()
	}
}

func TestListenRefusesOtherFile(t *testing.T) {
	sock := filepath.Join(shortDir(t), "socket")
	if err := os.WriteFile(sock, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Listen(listenConfig(sock)); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("Listen over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(sock); string(b) != "precious" {
		t.Error("Listen removed a file that was not a socket")
	}
}

// TestSocketActivation passes the socket to `rigplan cache serve` the way
// systemd does (fd 3, LISTEN_FDS, LISTEN_PID): the agent serves on it and
// leaves the socket file alone when it stops, since the socket unit owns
// it.
func TestSocketActivation(t *testing.T) {
	e := newEnv(t, 1)
	config := e.writeConfig(agent.CommitOnExit)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: e.socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	defer f.Close()

	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=cache exec "$0" "$@"`,
		rigplanBinary(t), "cache", "serve", "-config", config)
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdout, cmd.Stderr = tlog{t}, tlog{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	f.Close()
	e.waitServing()
	if resp := e.ask(&protocol.Request{Command: protocol.CommandEcho, Text: "activated"}); !resp.OK {
		t.Errorf("echo: %+v", resp)
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("agent: %v", err)
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("the agent did not stop")
	}
	if fi, err := os.Lstat(e.socket); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("the activated socket's file is gone after the agent stopped: %v", err)
	}
}

// The socket is of no use to the host's users: the agent makes the
// directory above the socket's root-only when it makes it, as it is in
// the default layout (agent.DefaultHostSocket), while the socket's own
// directory, the one machines bind, stays open to them. A host user's
// connect fails at the kernel; the agent never sees it.
func TestListenKeepsHostUsersOut(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to connect as another host user")
	}
	if _, err := exec.LookPath("ncat"); err != nil {
		t.Skip("needs ncat (Debian package ncat)")
	}
	open := shortDir(t)
	os.Chmod(open, 0o755)
	reachable := filepath.Join(open, "socket")
	sock := filepath.Join(open, "gate", "machines", "socket")
	if got, _ := agent.OpenToHostUsers(reachable); !got {
		t.Errorf("a socket in %s (0755, under /tmp) is called closed to host users", open)
	}
	ln, err := agent.Listen(listenConfig(sock))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for p, want := range map[string]os.FileMode{filepath.Dir(filepath.Dir(sock)): os.ModeDir | 0o700, filepath.Dir(sock): os.ModeDir | 0o750} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode(), err, want)
		}
	}
	if got, dir := agent.OpenToHostUsers(sock); got {
		t.Errorf("the socket behind the root-only directory is called open to host users (%s)", dir)
	}
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "ncat", "-U", sock).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ermission denied") {
		t.Errorf("a host user connecting: %v, %q; want permission denied", err, out)
	}
	select {
	case <-accepted:
		t.Error("the agent's listener saw the host user's connection")
	case <-time.After(200 * time.Millisecond):
	}
}
