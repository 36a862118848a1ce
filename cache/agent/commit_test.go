package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/store"
)

// TestCommitOnSave: with the on-save policy a failed job never poisons
// the cache. A job that saved leaves exactly its saved copy (what it had
// written when it saved, not what it wrote after); a job that never saved
// leaves nothing; a later job's criteria find the saved copy.
func TestCommitOnSave(t *testing.T) {
	e := newEnv(t, 3)
	e.serve(e.config(func(c *agent.Config) { c.Commit = agent.CommitOnSave }), depsNone())

	saver := e.machine(0)
	used := okMount(t, ncat(t, saver, "mount "+cacheDir+"\n< linux\n"))
	saver.Sh(t, machinetest.Runner, "echo before > "+cacheDir+"/f")
	out := ncat(t, saver, "save "+cacheDir+"\n< linux good\n")
	if !strings.HasPrefix(out, "ok\t"+cacheDir+"\t") {
		t.Fatalf("save: %q", out)
	}
	copyName := strings.TrimSpace(strings.Split(out, "\t")[2])
	saver.Sh(t, machinetest.Runner, "echo after > "+cacheDir+"/f")

	failer := e.machine(1)
	unsaved := okMount(t, ncat(t, failer, "mount "+cacheDir+"\n< linux\n"))
	failer.Sh(t, machinetest.Runner, "echo poison > "+cacheDir+"/f")

	powerOff(t, saver)
	powerOff(t, failer)
	e.waitState(used.Snapshot, "")
	e.waitState(unsaved.Snapshot, "")
	if got := names(e.snapshots()); len(got) != 1 || got[0] != copyName {
		t.Fatalf("after both machines exited the store holds %v, want only the saved copy %s", got, copyName)
	}
	s, _ := e.snapshot(copyName)
	if s.State != store.Sealed || strings.Join(s.Annotations, " ") != "good linux" || s.Origin != "" {
		// The copy's origin, the in-use snapshot, is gone now.
		t.Errorf("the saved copy: %+v", s)
	}
	if b, err := os.ReadFile(filepath.Join(e.mnt, "snaps", copyName, "f")); err != nil || string(b) != "before\n" {
		t.Errorf("the saved copy holds %q, %v; want what the job had when it saved", b, err)
	}

	next := e.machine(2)
	m := okMount(t, ncat(t, next, "mount "+cacheDir+"\n> linux\n"))
	if m.Default || m.Snapshot == copyName {
		t.Fatalf("next job: %+v", m)
	}
	if got := next.Sh(t, machinetest.Runner, "cat "+cacheDir+"/f"); got != "before" {
		t.Errorf("next job reads %q, want the saved state", got)
	}
	e.noLeaks()
}
