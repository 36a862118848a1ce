package agent_test

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/agent"
)

// agentProc is the agent running as its own process, `rigplan cache
// serve -config FILE`, as systemd runs it: the restart tests SIGKILL it.
type agentProc struct {
	t      testing.TB
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited
	err    error         // how it exited
}

// writeConfig writes the agent's configuration file for e, changed by
// mods.
func (e *env) writeConfig(commit agent.CommitPolicy, mods ...func(*agent.FileConfig)) string {
	e.t.Helper()
	fc := agent.FileConfig{
		Socket:   e.socket,
		StateDir: e.stateDir,
		Store:    agent.StoreFile{Type: "btrfs", Dir: filepath.Join(e.mnt, "snaps"), Default: filepath.Join(e.mnt, "default")},
		Machines: map[string][]string{},
		Commit:   commit,
		Retention: agent.RetentionFile{
			Interval: agent.Duration(-time.Second), // the tests run it themselves
		},
		Limits: agent.LimitsFile{ReadTimeout: agent.Duration(5 * time.Second), SealWait: agent.Duration(20 * time.Second)},
	}
	for _, n := range e.declared {
		fc.Machines[n] = []string{home}
	}
	for _, mod := range mods {
		mod(&fc)
	}
	b, err := json.MarshalIndent(fc, "", "  ")
	if err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(e.t.TempDir(), "agent.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// startProcess starts the agent as a process with config and waits for
// its sd_notify READY=1. pause, if set, is the test hook's STEP=FILE.
func (e *env) startProcess(config, pause string) *agentProc {
	e.t.Helper()
	bin := rigplanBinary(e.t)
	dir, err := os.MkdirTemp("", "rpn")
	if err != nil {
		e.t.Fatal(err)
	}
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "notify"), Net: "unixgram"})
	if err != nil {
		e.t.Fatal(err)
	}
	// Kept open while the agent runs: it also sends STATUS and STOPPING.
	e.t.Cleanup(func() { notify.Close(); os.RemoveAll(dir) })

	p := &agentProc{t: e.t, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "cache", "serve", "-config", config)
	p.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify.LocalAddr().String())
	if pause != "" {
		p.cmd.Env = append(p.cmd.Env, agent.PauseEnv+"="+pause)
	}
	p.cmd.Stdout, p.cmd.Stderr = tlog{e.t}, tlog{e.t}
	if e.agentLog != nil {
		p.cmd.Stdout, p.cmd.Stderr = e.agentLog, e.agentLog
	}
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	e.t.Cleanup(p.stop)

	notify.SetReadDeadline(time.Now().Add(time.Minute))
	buf := make([]byte, 4096)
	for {
		n, err := notify.Read(buf)
		if err != nil {
			e.t.Fatalf("the agent sent no READY=1: %v", err)
		}
		if msg := string(buf[:n]); strings.Contains(msg, "READY=1") {
			if !strings.Contains(msg, "STATUS=serving:") {
				e.t.Errorf("READY without a STATUS line: %q", msg)
			}
			return p
		}
	}
}

// kill SIGKILLs the agent and waits for it.
func (p *agentProc) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatal(err)
	}
	<-p.exited
}

// stop ends the agent the way systemd does, with SIGTERM, and checks it
// exits cleanly; it does nothing if the agent is gone.
func (p *agentProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			p.t.Errorf("agent exited with %v after SIGTERM, want 0", p.err)
		}
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		<-p.exited
		p.t.Errorf("agent did not stop on SIGTERM")
	}
}

// waitFile waits for the test hook's pause file.
func waitFile(t testing.TB, path string) {
	t.Helper()
	eventually(t, time.Minute, "the agent to reach the paused step", func() (bool, string) {
		_, err := os.Stat(path)
		return err == nil, "no " + path
	})
}
