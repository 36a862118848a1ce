package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/store"
)

// originalRequest is the original setup's workflow step, unchanged but
// for the cache path (the machines' runner lives in /home/runner).
const originalRequest = `mount /home/runner/cache
> linux dc5e8c
> linux
< linux dc5e8c
`

// TestOriginalRequest is the cache's whole story: a job in one machine
// asks with the original ncat heredoc, as the unprivileged runner, gets a
// snapshot of the default volume and writes into it; its machine powers
// off and the snapshot is sealed; a job in a later machine asking the
// same gets a copy of what the first one wrote.
func TestOriginalRequest(t *testing.T) {
	e := newEnv(t, 2)
	e.serve(e.config(nil), depsNone())

	first := e.machine(0)
	m := okMount(t, ncat(t, first, originalRequest))
	if m.Path != cacheDir || !m.Default {
		t.Fatalf("first job got %+v, want a copy of the default volume at %s", m, cacheDir)
	}
	// The job, as the runner, reads the default volume's file and writes.
	if got := first.Sh(t, machinetest.Runner, "cat "+cacheDir+"/"+defaultFile+" && echo built > "+cacheDir+"/artifact && mkdir "+cacheDir+"/deps && id -u"); got != "default\n1000" {
		t.Errorf("the runner sees %q", got)
	}
	if s, _ := e.snapshot(m.Snapshot); s.State != store.InUse || s.Machine != first.Name() || strings.Join(s.Annotations, " ") != "dc5e8c linux" {
		t.Errorf("in the store: %+v", s)
	}
	e.noLeaks()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := first.PowerOff(ctx); err != nil {
		t.Fatal(err)
	}
	e.waitState(m.Snapshot, store.Sealed)
	// On disk, the files the runner made belong to uid 1000: nothing was
	// chowned, whatever the machine's user range.
	for _, p := range []string{"artifact", "deps"} {
		if got := owner(t, filepath.Join(e.mnt, "snaps", m.Snapshot, p)); got != "1000:1000" {
			t.Errorf("%s on disk is owned by %s, want 1000:1000", p, got)
		}
	}

	second := e.machine(1)
	m2 := okMount(t, ncat(t, second, originalRequest))
	if m2.Default || strings.Join(m2.Criterion, " ") != "linux dc5e8c" || m2.Snapshot == m.Snapshot {
		t.Fatalf("second job got %+v, want a new snapshot of %s by its first criterion", m2, m.Snapshot)
	}
	if s, _ := e.snapshot(m2.Snapshot); s.Origin != m.Snapshot {
		t.Errorf("second snapshot's origin is %q, want %s", s.Origin, m.Snapshot)
	}
	if got := second.Sh(t, machinetest.Runner, "cat "+cacheDir+"/artifact; ls -d "+cacheDir+"/deps"); got != "built\n"+cacheDir+"/deps" {
		t.Errorf("the second job sees %q, want what the first wrote", got)
	}
	// The second job's writes do not reach the first's sealed cache.
	second.Sh(t, machinetest.Runner, "echo changed > "+cacheDir+"/artifact")
	if b, _ := os.ReadFile(filepath.Join(e.mnt, "snaps", m.Snapshot, "artifact")); string(b) != "built\n" {
		t.Errorf("the sealed snapshot now holds %q", b)
	}
	e.noLeaks()
}

// TestClientInMachine uses the rigplan client inside a machine, as a
// composite action would: mount with criteria, save, ls; a refusal exits
// non-zero with the reason on stderr.
func TestClientInMachine(t *testing.T) {
	e := newEnv(t, 1)
	bin := filepath.Join(binInMachine, filepath.Base(rigplanBinary(t)))
	e.serve(e.config(nil), depsNone())
	m := e.machine(0)
	run := func(args ...string) (string, string, error) {
		res, err := m.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner, Args: append([]string{bin, "cache"}, args...)})
		return string(res.Stdout), string(res.Stderr), err
	}
	out, stderr, err := run("mount", cacheDir, "--criteria", "linux main", "--criteria", "linux", "--annotate", "linux main", "--socket", sockInMachine)
	if err != nil || !strings.Contains(out, "at "+cacheDir+", a copy of the default volume") {
		t.Fatalf("mount: %q %q %v", out, stderr, err)
	}
	m.Sh(t, machinetest.Runner, "echo v1 > "+cacheDir+"/f")
	out, stderr, err = run("save", cacheDir, "--annotate", "linux main saved", "-socket", sockInMachine)
	if err != nil || !strings.Contains(out, "Saved the cache at "+cacheDir+" as snapshot ") {
		t.Fatalf("save: %q %q %v", out, stderr, err)
	}
	saved := strings.TrimSuffix(strings.Fields(out)[len(strings.Fields(out))-1], ".")
	if s, _ := e.snapshot(saved); s.State != store.Sealed || strings.Join(s.Annotations, " ") != "linux main saved" {
		t.Errorf("the saved copy: %+v", s)
	}
	if b, err := os.ReadFile(filepath.Join(e.mnt, "snaps", saved, "f")); err != nil || string(b) != "v1\n" {
		t.Errorf("the saved copy holds %q, %v", b, err)
	}
	// A second mount in the same machine, by the criteria, copies the
	// saved one: it is sealed, and the one in use never is an origin.
	out, _, err = run("mount", home+"/cache2", "--criteria", "linux saved", "--socket", sockInMachine)
	if err != nil || !strings.Contains(out, `matching "> linux saved"`) {
		t.Fatalf("second mount: %q %v", out, err)
	}
	out, _, err = run("ls", "-json", "--socket", sockInMachine)
	if err != nil || strings.Count(out, `"name"`) != 3 || !strings.Contains(out, `"state": "in-use"`) {
		t.Errorf("ls -json: %q %v", out, err)
	}
	out, stderr, err = run("mount", "/etc/cache", "--socket", sockInMachine)
	if err == nil || out != "" || !strings.Contains(stderr, "outside the machine's allowed prefixes") {
		t.Errorf("a refused mount: exit %v, stdout %q, stderr %q; want non-zero and the reason", err, out, stderr)
	}
	_, stderr, err = run("gc", "--socket", sockInMachine)
	if err == nil || !strings.Contains(stderr, "gc is for the host's operator") {
		t.Errorf("gc from a machine: %v %q", err, stderr)
	}
	e.noLeaks()
	// echo marks the end of answers, as daemonproxy's does.
	if resp := e.ask(&protocol.Request{Command: protocol.CommandEcho, Text: "fin"}); !resp.OK || resp.Fields[0] != "fin" {
		t.Errorf("echo: %+v", resp)
	}
}
