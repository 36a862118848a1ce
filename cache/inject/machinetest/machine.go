package machinetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/inject"
)

// Uids to run commands as inside a machine.
const (
	Root   = 0
	Runner = 1000
)

// initArgs is PID 1 inside: it waits for a line or EOF on nspawn's stdin.
var initArgs = []string{"/bin/sh", "-c", "read -r _; exit 0"}

// Options describe a machine to start. The zero value is a valid machine.
type Options struct {
	// Name is the machine name; default a random "rt-" name.
	Name string
	// Base and Range are the private user range: uid 0 inside is host uid
	// Base. Base defaults to a random 65536-aligned value in
	// [0x70000000, 0x78000000), Range to 65536.
	Base, Range uint32
	// BindReadOnly and Bind are host directories to bind into the machine
	// (--bind-ro, --bind), e.g. the agent's socket directory.
	BindReadOnly, Bind []Bind
	// Lifetime bounds how long the machine may run (nspawn is killed after
	// it): default the test's deadline, or 10 minutes without one.
	Lifetime time.Duration
}

// Bind is one bind mount. Machine "" means the same path as Host.
type Bind struct {
	Host, Machine string
}

func (b Bind) arg() string {
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	if b.Machine == "" || b.Machine == b.Host {
		return esc.Replace(b.Host)
	}
	return esc.Replace(b.Host) + ":" + esc.Replace(b.Machine)
}

// Machine is a running systemd-nspawn machine.
type Machine struct {
	name        string
	base, size  uint32
	cgroupRoot  string
	unit        string // /machine.slice/systemd-nspawn@NAME.service
	leader      int
	leaderProcs string // cgroup.procs of the leader's cgroup
	log         string // nspawn's stdout and stderr
	stdin       *os.File
	cancel      context.CancelFunc
	done        chan struct{}
	waitErr     error
}

// Start starts a machine and registers its removal with t.Cleanup. It
// skips t when the host cannot run machines and fails t when the machine
// does not come up.
func Start(t testing.TB, opts Options) *Machine {
	t.Helper()
	Require(t)
	root, err := inject.UnifiedCgroupRoot()
	if err != nil {
		t.Fatal(err)
	}
	m := &Machine{
		name:       opts.Name,
		base:       opts.Base,
		size:       opts.Range,
		cgroupRoot: root,
		done:       make(chan struct{}),
		cancel:     func() {},
		log:        filepath.Join(t.TempDir(), "nspawn.log"),
	}
	if m.name == "" {
		m.name = fmt.Sprintf("rt-%08x", rand.Uint32())
	}
	if m.base == 0 {
		m.base = 0x70000000 + uint32(rand.IntN(2048))*65536
	}
	if m.size == 0 {
		m.size = 65536
	}
	m.unit = "/machine.slice/systemd-nspawn@" + m.name + ".service"
	lifetime := opts.Lifetime
	if lifetime <= 0 {
		lifetime = 10 * time.Minute
		if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
			if dl, ok := d.Deadline(); ok {
				lifetime = time.Until(dl)
			}
		}
	}

	if err := os.MkdirAll(root+"/machine.slice", 0o755); err != nil {
		t.Fatalf("machine %s: create machine.slice: %v", m.name, err)
	}
	if err := os.Mkdir(root+m.unit, 0o755); err != nil {
		t.Fatalf("machine %s: create its cgroup: %v", m.name, err)
	}
	t.Cleanup(func() { m.cleanup(t) })

	args := []string{
		"--quiet", "--register=no", "--keep-unit",
		"--machine=" + m.name,
		"--directory=/", "--volatile=yes",
		fmt.Sprintf("--private-users=%d:%d", m.base, m.size),
		"--private-users-ownership=off",
		"--console=pipe",
	}
	for _, b := range opts.BindReadOnly {
		args = append(args, "--bind-ro="+b.arg())
	}
	for _, b := range opts.Bind {
		args = append(args, "--bind="+b.arg())
	}
	args = append(append(args, "--"), initArgs...)

	ctx, cancel := context.WithTimeout(context.Background(), lifetime)
	m.cancel = cancel
	logf, err := os.Create(m.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	m.stdin = pw
	// The shell puts itself into the machine's cgroup and becomes nspawn,
	// so nspawn and everything it forks start there.
	script := `echo $$ >"$0" || exit 125; exec "$@"`
	cmd := exec.CommandContext(ctx, "sh", append([]string{"-c", script, procsFile(root, m.unit), "systemd-nspawn"}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pr, logf, logf
	// On timeout, SIGTERM: nspawn then kills the machine (SIGKILL to its
	// PID 1, as it does without --boot) and exits.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		pr.Close()
		close(m.done)
		t.Fatalf("machine %s: start systemd-nspawn: %v", m.name, err)
	}
	pr.Close()
	go func() {
		m.waitErr = cmd.Wait()
		close(m.done)
	}()

	if err := m.awaitLeader(30 * time.Second); err != nil {
		t.Fatalf("machine %s: %v\nsystemd-nspawn %s\n%s", m.name, err, strings.Join(args, " "), m.Log())
	}
	return m
}

// awaitLeader waits until the machine's PID 1 has exec'ed initArgs, which
// nspawn lets it do only once the machine is set up.
func (m *Machine) awaitLeader(limit time.Duration) error {
	want := []byte(strings.Join(initArgs, "\x00") + "\x00")
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-m.done:
			return fmt.Errorf("systemd-nspawn exited before the machine came up (%v)", m.waitErr)
		default:
		}
		var found []int
		procs(m.cgroupRoot+m.unit, func(pid int) {
			cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err != nil || !bytes.Equal(cmdline, want) {
				return
			}
			if ns := nsPids(pid); len(ns) == 2 && ns[1] == 1 {
				found = append(found, pid)
			}
		})
		if len(found) == 1 {
			m.leader = found[0]
			cg, err := unifiedCgroup(m.leader)
			if err != nil {
				return err
			}
			m.leaderProcs = procsFile(m.cgroupRoot, cg)
			return nil
		}
		if len(found) > 1 {
			return fmt.Errorf("several processes look like its PID 1: %v", found)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PID 1 running %q after %v", initArgs, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Name is the machine's name.
func (m *Machine) Name() string { return m.name }

// Leader is the host pid of the machine's PID 1.
func (m *Machine) Leader() int { return m.leader }

// Base is the host uid (and gid) of root inside the machine.
func (m *Machine) Base() uint32 { return m.base }

// Cgroup is the machine's unit cgroup in the unified hierarchy,
// /machine.slice/systemd-nspawn@NAME.service.
func (m *Machine) Cgroup() string { return m.unit }

// Done is closed when systemd-nspawn has exited.
func (m *Machine) Done() <-chan struct{} { return m.done }

// Log is what systemd-nspawn printed so far.
func (m *Machine) Log() string {
	b, _ := os.ReadFile(m.log)
	return string(b)
}

// PowerOff makes the machine's PID 1 exit, as a runner's machine does
// after its job, and waits for systemd-nspawn to exit.
func (m *Machine) PowerOff(ctx context.Context) error {
	m.stdin.Close()
	select {
	case <-m.done:
	case <-ctx.Done():
		return fmt.Errorf("machine %s did not power off: %w", m.name, ctx.Err())
	}
	if m.waitErr != nil {
		return fmt.Errorf("machine %s: systemd-nspawn: %w\n%s", m.name, m.waitErr, m.Log())
	}
	return nil
}

// Kill ends the machine abruptly (SIGKILL to its PID 1, as an operator or
// the OOM killer might) and waits for systemd-nspawn to exit. What nspawn
// reports about it is not an error here.
func (m *Machine) Kill(ctx context.Context) error {
	if err := syscall.Kill(m.leader, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("machine %s: kill its PID 1 (%d): %w", m.name, m.leader, err)
	}
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("machine %s did not stop after its PID 1 was killed: %w", m.name, ctx.Err())
	}
}

// cleanup stops the machine if it still runs and removes its cgroups.
func (m *Machine) cleanup(t testing.TB) {
	defer m.cancel()
	if m.stdin != nil {
		m.stdin.Close()
		select {
		case <-m.done:
		case <-time.After(10 * time.Second):
			m.cancel() // SIGTERM, then SIGKILL after WaitDelay
			select {
			case <-m.done:
			case <-time.After(30 * time.Second):
				t.Errorf("machine %s: systemd-nspawn does not exit", m.name)
			}
		}
	}
	if err := removeCgroup(m.cgroupRoot + m.unit); err != nil {
		t.Errorf("machine %s: %v", m.name, err)
	}
	// nspawn makes this directory for `machinectl bind` and may leave it.
	if err := os.Remove("/run/systemd/nspawn/propagate/" + m.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("machine %s: %v", m.name, err)
	}
}

// removeCgroup kills whatever is left in the cgroup subtree dir and
// removes it, deepest first.
func removeCgroup(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if populated(dir) {
		if err := os.WriteFile(dir+"/cgroup.kill", []byte("1"), 0); err != nil {
			return fmt.Errorf("kill what is left in cgroup %s: %w", dir, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for populated(dir) {
			if time.Now().After(deadline) {
				return fmt.Errorf("cgroup %s still has processes after cgroup.kill", dir)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	slices.Reverse(dirs)
	for _, d := range dirs {
		if err := os.Remove(d); err != nil {
			return fmt.Errorf("remove cgroup %s: %w", d, err)
		}
	}
	return nil
}

// populated reads cgroup.events: whether the subtree has processes.
func populated(dir string) bool {
	b, err := os.ReadFile(dir + "/cgroup.events")
	return err == nil && bytes.Contains(b, []byte("populated 1"))
}

// procs calls fn with each pid in the cgroup subtree dir.
func procs(dir string, fn func(pid int)) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p + "/cgroup.procs")
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				fn(pid)
			}
		}
		return nil
	})
}

// nsPids is the NSpid line of /proc/PID/status.
func nsPids(pid int) []int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			var out []int
			for _, f := range strings.Fields(rest) {
				n, _ := strconv.Atoi(f)
				out = append(out, n)
			}
			return out
		}
	}
	return nil
}

// unifiedCgroup is the 0:: line of /proc/PID/cgroup.
func unifiedCgroup(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("pid %d has no unified cgroup", pid)
}
