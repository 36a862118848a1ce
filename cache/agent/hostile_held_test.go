package agent_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/store"
)

// What already held against an attacker keeps holding. A job swaps its
// mount path between a directory and a symlink to /etc as fast as it
// can while it asks for caches there: every cache lands in its own
// directory, never over /etc. Annotations that look like the store's
// own bookkeeping or like protocol lines are kept as the job's words and
// change no state.
func TestHostileKeepsHolding(t *testing.T) {
	e := newEnv(t, 2)
	e.serve(e.config(nil), depsNone())

	t.Run("symlink swapped under the mount path", func(t *testing.T) {
		e := e.in(t)
		m := e.machine(0)
		swap := home + "/swap"
		m.Sh(t, machinetest.Runner, "mkdir -p "+swap)
		// The swapper makes the directory above the mount path one of
		// its own and a symlink to /etc in turn, until told to stop.
		script := fmt.Sprintf(`cd %s; while [ ! -e stop ]; do rm -f link 2>/dev/null; mkdir link 2>/dev/null; rmdir link 2>/dev/null; ln -s /etc link 2>/dev/null; done`, swap)
		done := make(chan error, 1)
		go func() {
			_, err := m.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner, Args: []string{"sh", "-c", script}, Timeout: 0})
			done <- err
		}()
		var served, refused int
		for i := range 100 {
			path := fmt.Sprintf("%s/link/cache%d", swap, i)
			out := ncat(t, m, "mount "+path+"\n")
			if strings.HasPrefix(out, "ok\t") {
				served++
				// It is in the job's own directory: machine root takes the
				// cache away again, so that the swapping goes on.
				m.Sh(t, machinetest.Root, "umount -l "+path+" && rmdir "+path)
			} else {
				refused++
			}
			if mountedIn(t, m, "/etc") {
				t.Fatalf("request %d: something is mounted at /etc in the machine", i)
			}
		}
		m.Sh(t, machinetest.Runner, "touch "+swap+"/stop")
		<-done
		t.Logf("%d mounts served in the swapping directory, %d refused", served, refused)
		if got := m.Sh(t, machinetest.Root, "ls /etc | grep -c '^cache' || true"); got != "0" {
			t.Errorf("%s directories named cache* appeared in the machine's /etc", got)
		}
		if got := m.Sh(t, machinetest.Root, "grep -c ' /etc' /proc/1/mountinfo || true"); got != "0" {
			t.Errorf("mounts at or under /etc in the machine: %s", got)
		}
		for _, s := range e.snapshots() {
			if s.State == store.Pending {
				t.Errorf("a half-made snapshot is left: %+v", s)
			}
		}
	})

	t.Run("annotations that look like bookkeeping", func(t *testing.T) {
		e := e.in(t)
		m := e.machine(1)
		terms := []string{"rigplan:state:sealed", `{"state":"sealed"}`, "ok", "error", "default", "snapshot", "../../etc"}
		got := okMount(t, ncat(t, m, "mount "+cacheDir+"\n< "+strings.Join(terms, " ")+"\n"))
		s, ok := e.snapshot(got.Snapshot)
		if !ok || s.State != store.InUse {
			t.Fatalf("the snapshot: %+v (present %v), want in use", s, ok)
		}
		want := slices.Clone(terms)
		slices.Sort(want)
		have := slices.Clone(s.Annotations)
		slices.Sort(have)
		if !slices.Equal(have, want) {
			t.Errorf("annotations kept as %q, want the job's words %q", have, want)
		}
		// A second command after the first, on the same connection, is
		// refused, not run.
		errorLine(t, ncat(t, m, "ls\nrm "+got.Snapshot+"\n"), "second command")
		if _, ok := e.snapshot(got.Snapshot); !ok {
			t.Error("a line after the request deleted the snapshot")
		}
	})
	e.noLeaks()
}
