package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/store"
)

// TestRestartSafety kills the agent (SIGKILL, as the OOM killer or a
// crash would) at every step of a mount, of a save, and of finishing a
// snapshot after its machine exited, and starts it again. Each time, the
// start-up pass leaves no half-made snapshot, no mount on the host and no
// stray mount in the machine; a snapshot that was in use is watched again
// (or finished, when its machine is gone); the sealed snapshot made at the
// start keeps its content; and the agent serves again.
func TestRestartSafety(t *testing.T) {
	mountSteps := []string{"created", "staged", "injected", "unstaged", "in-use"}
	saveSteps := []string{"save-staged", "copied"}
	// A machine per step, plus the seed's and one to serve at the end.
	e := newEnv(t, len(mountSteps)+len(saveSteps)+3)
	config := e.writeConfig(agent.CommitOnExit)
	next := 0
	machine := func(t *testing.T) *machinetest.Machine { next++; return e.in(t).machine(next - 1) }

	// The sealed cache that must survive everything.
	p := e.startProcess(config, "")
	seedMachine := machine(t)
	seed := okMount(t, ncat(t, seedMachine, "mount "+cacheDir+"\n< seed\n"))
	seedMachine.Sh(t, machinetest.Runner, "echo precious > "+cacheDir+"/data")
	powerOff(t, seedMachine)
	e.waitState(seed.Snapshot, store.Sealed)
	p.stop()

	intact := func(t *testing.T) {
		t.Helper()
		s, ok := e.snapshot(seed.Snapshot)
		b, err := os.ReadFile(filepath.Join(e.mnt, "snaps", seed.Snapshot, "data"))
		if !ok || s.State != store.Sealed || err != nil || string(b) != "precious\n" {
			t.Errorf("the sealed snapshot is not intact: %+v (present %v), data %q %v", s, ok, b, err)
		}
	}
	// serves checks the restarted agent hands out a cache again, in m.
	serves := func(t *testing.T, m *machinetest.Machine, path string) {
		t.Helper()
		got := okMount(t, ncat(t, m, "mount "+path+"\n> seed\n"))
		if got.Default {
			t.Errorf("after the restart, the sealed snapshot is no longer found: %+v", got)
		}
	}
	// killAt runs request in machine m with the agent set to stop at
	// step, kills it there and starts it again. It returns what the client
	// got (nothing: it never sees an answer) and the new agent.
	killAt := func(t *testing.T, step string, m *machinetest.Machine, request string) *agentProc {
		t.Helper()
		e := e.in(t)
		pauseFile := filepath.Join(t.TempDir(), "paused")
		p := e.startProcess(config, step+"="+pauseFile)
		answer := make(chan string, 1)
		go func() {
			res, _ := m.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner, Args: []string{"ncat", "-U", sockInMachine}, Stdin: strings.NewReader(request)})
			answer <- string(res.Stdout)
		}()
		waitFile(t, pauseFile)
		p.kill()
		if got := <-answer; got != "" {
			t.Errorf("the client got %q from an agent killed mid-request", got)
		}
		return e.startProcess(config, "")
	}

	for _, step := range mountSteps {
		t.Run("mount/"+step, func(t *testing.T) {
			e := e.in(t)
			m := machine(t)
			before := names(e.snapshots())
			p := killAt(t, step, m, originalRequest)
			defer p.stop()
			e.noLeaks()
			intact(t)
			after := names(e.snapshots())
			if step != "in-use" {
				if !slices.Equal(after, before) {
					t.Errorf("snapshots %v after the restart, want %v: the half-made one must go", after, before)
				}
				if mountedIn(t, m, cacheDir) {
					t.Errorf("a half-made snapshot is still mounted in the machine")
				}
				serves(t, m, cacheDir)
				return
			}
			// Killed right after the snapshot was recorded in use: it is
			// the job's now, watched again, and sealed when it exits.
			made := slices.DeleteFunc(after, func(n string) bool { return slices.Contains(before, n) })
			if len(made) != 1 {
				t.Fatalf("snapshots %v after the restart, want one more than %v", after, before)
			}
			if s, _ := e.snapshot(made[0]); s.State != store.InUse || !mountedIn(t, m, cacheDir) {
				t.Fatalf("the in-use snapshot after the restart: %+v, mounted %v", s, mountedIn(t, m, cacheDir))
			}
			m.Sh(t, machinetest.Runner, "echo kept > "+cacheDir+"/after-restart")
			serves(t, m, home+"/second")
			powerOff(t, m)
			e.waitState(made[0], store.Sealed)
			if b, err := os.ReadFile(filepath.Join(e.mnt, "snaps", made[0], "after-restart")); err != nil || string(b) != "kept\n" {
				t.Errorf("the re-watched snapshot holds %q, %v", b, err)
			}
		})
	}

	for _, step := range saveSteps {
		t.Run("save/"+step, func(t *testing.T) {
			e := e.in(t)
			m := machine(t)
			p := e.startProcess(config, "")
			used := okMount(t, ncat(t, m, "mount "+cacheDir+"\n> seed\n"))
			p.stop()
			before := names(e.snapshots())
			p = killAt(t, step, m, "save "+cacheDir+"\n")
			defer p.stop()
			e.noLeaks()
			intact(t)
			after := names(e.snapshots())
			made := slices.DeleteFunc(slices.Clone(after), func(n string) bool { return slices.Contains(before, n) })
			switch step {
			case "copied":
				// The copy was finished and sealed before the kill: it is
				// kept, as everything sealed is, though the job never
				// heard of it.
				if s, _ := e.snapshot(strings.Join(made, "")); len(made) != 1 || s.State != store.Sealed || s.Origin != used.Snapshot {
					t.Errorf("after a kill once the copy was made: new snapshots %v (%+v), want one sealed copy of %s", made, s, used.Snapshot)
				}
			default:
				if len(made) != 0 {
					t.Errorf("snapshots %v after the restart, want %v: the half-made copy must go", after, before)
				}
			}
			if s, _ := e.snapshot(used.Snapshot); s.State != store.InUse || !mountedIn(t, m, cacheDir) {
				t.Errorf("the snapshot being saved: %+v, mounted %v; want still in use", s, mountedIn(t, m, cacheDir))
			}
			// The job can save again, and its machine's exit still seals.
			if out := ncat(t, m, "save "+cacheDir+"\n"); !strings.HasPrefix(out, "ok\t") {
				t.Errorf("save after the restart: %q", out)
			}
			powerOff(t, m)
			e.waitState(used.Snapshot, store.Sealed)
		})
	}

	t.Run("finishing", func(t *testing.T) {
		e := e.in(t)
		m := machine(t)
		pauseFile := filepath.Join(t.TempDir(), "paused")
		p := e.startProcess(config, "finishing="+pauseFile)
		used := okMount(t, ncat(t, m, "mount "+cacheDir+"\n"))
		powerOff(t, m)
		waitFile(t, pauseFile)
		p.kill()
		p = e.startProcess(config, "")
		defer p.stop()
		// Its machine is gone: the start-up pass seals it.
		e.waitState(used.Snapshot, store.Sealed)
		e.noLeaks()
		intact(t)
		serves(t, machine(t), cacheDir)
	})
}

// TestClientOutlivesRestart kills the agent in the middle of a mount the
// rigplan client sent from a machine, and starts it again a moment
// later, as its service would: the client, which saw its connection cut
// and then the socket refuse it, asks again and gets its cache; the
// half-made snapshot of the first try is gone.
func TestClientOutlivesRestart(t *testing.T) {
	e := newEnv(t, 1)
	bin := filepath.Join(binInMachine, filepath.Base(rigplanBinary(t)))
	config := e.writeConfig(agent.CommitOnExit)
	pauseFile := filepath.Join(t.TempDir(), "paused")
	p := e.startProcess(config, "staged="+pauseFile)
	m := e.machine(0)
	type result struct {
		out, stderr string
		err         error
	}
	done := make(chan result, 1)
	go func() {
		res, err := m.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner, Timeout: 2 * time.Minute,
			Args: []string{bin, "cache", "mount", cacheDir, "--criteria", "linux", "--socket", sockInMachine, "--timeout", "90s"}})
		done <- result{string(res.Stdout), string(res.Stderr), err}
	}()
	waitFile(t, pauseFile)
	p.kill()
	time.Sleep(500 * time.Millisecond) // the service's restart delay
	p = e.startProcess(config, "")
	defer p.stop()
	r := <-done
	if r.err != nil || !strings.Contains(r.out, "at "+cacheDir+", a copy of the default volume") {
		t.Fatalf("the client: %q %q %v", r.out, r.stderr, r.err)
	}
	if !strings.Contains(r.stderr, "asking again") {
		t.Errorf("the client did not say it asked again: %q", r.stderr)
	}
	if got := e.states(); got[store.InUse] != 1 || got[store.Pending] != 0 || len(names(e.snapshots())) != 1 {
		t.Errorf("after the restart the store holds %v (%v), want the one cache in use", names(e.snapshots()), got)
	}
	if got := m.Sh(t, machinetest.Runner, "cat "+cacheDir+"/"+defaultFile); got != "default" {
		t.Errorf("the cache holds %q", got)
	}
	e.noLeaks()
}
