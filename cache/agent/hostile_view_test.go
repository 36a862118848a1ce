package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/store"
)

// The agent's view never diverges from the store: a snapshot deleted
// behind its back (by an operator, or by the agent itself while a
// retention pass was reading the store) neither comes back as a
// candidate nor stays as a ghost that rm refuses; and a missing origin
// never fails a mount, which falls back to the next candidate.
func TestHostileViewFollowsStore(t *testing.T) {
	t.Run("a sealed snapshot deleted by hand is no origin", func(t *testing.T) {
		e := newEnv(t, 2)
		e.serve(e.config(nil), depsNone())
		first := e.machine(0)
		sealed := okMount(t, ncat(t, first, "mount "+cacheDir+"\n< linux main\n"))
		powerOff(t, first)
		e.waitState(sealed.Snapshot, store.Sealed)
		e.deleteByHand(sealed.Snapshot)

		got := okMount(t, ncat(t, e.machine(1), "mount "+cacheDir+"\n> linux main\n> linux\n"))
		if !got.Default {
			t.Errorf("mount after the origin vanished: %+v, want the default volume", got)
		}
		if ls := e.listNames(); strings.Contains(ls, sealed.Snapshot) {
			t.Errorf("ls still lists the deleted snapshot: %s", ls)
		}
		e.noLeaks()
	})

	t.Run("an in-use snapshot deleted by hand leaves no ghost", func(t *testing.T) {
		e := newEnv(t, 1)
		e.serve(e.config(nil), depsNone())
		m := e.machine(0)
		used := okMount(t, ncat(t, m, "mount "+cacheDir+"\n"))
		e.deleteByHand(used.Snapshot)
		e.ask(&protocol.Request{Command: protocol.CommandGC})
		if ls := e.listNames(); strings.Contains(ls, used.Snapshot) {
			t.Errorf("after gc, ls still lists the snapshot deleted by hand: %s", ls)
		}
		powerOff(t, m)
		e.ask(&protocol.Request{Command: protocol.CommandGC})
		if ls := e.listNames(); strings.Contains(ls, used.Snapshot) {
			t.Errorf("after its machine exited, ls lists the snapshot deleted by hand: %s", ls)
		}
		resp := e.ask(&protocol.Request{Command: protocol.CommandRemove, Name: used.Snapshot})
		if resp.OK || !strings.Contains(resp.Reason, "no snapshot "+used.Snapshot) {
			t.Errorf("rm of the vanished snapshot: %+v, want \"no snapshot\"", resp)
		}
		e.noLeaks()
	})

	t.Run("a snapshot deleted while retention reads the store stays deleted", func(t *testing.T) {
		e := newEnv(t, 1)
		held := &holdList{Store: e.store, listed: make(chan struct{}), release: make(chan struct{})}
		e.serve(e.config(func(c *agent.Config) { c.Commit = agent.CommitOnSave }), agent.Deps{Store: held})
		m := e.machine(0)
		used := okMount(t, ncat(t, m, "mount "+cacheDir+"\n"))

		// gc reads the store (the in-use snapshot is there) and is held
		// before it merges what it read; meanwhile the machine exits and
		// its unsaved snapshot is deleted (commit on-save).
		held.armed.Store(true)
		gc := e.gcAsync()
		<-held.listed
		powerOff(t, m)
		e.waitState(used.Snapshot, "")
		close(held.release)
		if resp := <-gc; !resp.OK {
			t.Fatalf("gc: %+v", resp)
		}
		if ls := e.listNames(); strings.Contains(ls, used.Snapshot) {
			t.Errorf("the deleted snapshot came back into the agent's view: %s", ls)
		}
		resp := e.ask(&protocol.Request{Command: protocol.CommandRemove, Name: used.Snapshot})
		if resp.OK || !strings.Contains(resp.Reason, "no snapshot "+used.Snapshot) {
			t.Errorf("rm of the deleted snapshot: %+v, want \"no snapshot\"", resp)
		}
		e.noLeaks()
	})

	t.Run("a snapshot made while retention reads the store stays in the view", func(t *testing.T) {
		e := newEnv(t, 1)
		held := &holdList{Store: e.store, listed: make(chan struct{}), release: make(chan struct{})}
		e.serve(e.config(nil), agent.Deps{Store: held})
		m := e.machine(0)

		// A mount has chosen its origin and is about to make its
		// snapshot when gc reads the store; gc is held before it merges
		// what it read, and the mount finishes meanwhile.
		held.creating, held.create = make(chan struct{}), make(chan struct{})
		mounted := make(chan string, 1)
		go func() {
			res, _ := m.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner, Args: []string{"ncat", "-U", sockInMachine}, Stdin: strings.NewReader("mount " + cacheDir + "\n")})
			mounted <- string(res.Stdout)
		}()
		<-held.creating
		held.armed.Store(true)
		gc := e.gcAsync()
		<-held.listed
		close(held.create)
		used := okMount(t, <-mounted)
		close(held.release)
		if resp := <-gc; !resp.OK {
			t.Fatalf("gc: %+v", resp)
		}
		if view, ok := e.viewHas(used.Snapshot, store.InUse); !ok {
			t.Errorf("the snapshot mounted during gc's read, in the agent's view: %s; want in use", view)
		}
		powerOff(t, m)
		e.waitState(used.Snapshot, store.Sealed)
		e.noLeaks()
	})
}

// gcAsync runs gc as the operator, in the background, and hands over
// its answer.
func (e *env) gcAsync() <-chan *protocol.Response {
	gc := make(chan *protocol.Response, 1)
	go func() {
		resp, err := e.try(&protocol.Request{Command: protocol.CommandGC})
		if err != nil {
			resp = protocol.Fail(err.Error())
		}
		gc <- resp
	}()
	return gc
}

// holdList is the test's btrfs store with one List held, once armed,
// between reading the store and returning: the window in which the
// agent's own deletions race a retention pass.
type holdList struct {
	store.Store
	armed           atomic.Bool
	listed, release chan struct{}
	// creating, when set, is closed as Create is called, which then
	// waits for create.
	creating, create chan struct{}
}

func (h *holdList) Create(ctx context.Context, origin, name, machine string, annotations []string) (store.Snapshot, error) {
	if h.creating != nil {
		close(h.creating)
		<-h.create
	}
	return h.Store.Create(ctx, origin, name, machine, annotations)
}

func (h *holdList) List(ctx context.Context) ([]store.Snapshot, error) {
	snaps, err := h.Store.List(ctx)
	if h.armed.CompareAndSwap(true, false) {
		close(h.listed)
		<-h.release
	}
	return snaps, err
}

var _ store.BusyChecker = (*holdList)(nil)

// Busy passes the btrfs store's own check through: without it the
// agent would look for mounts itself.
func (h *holdList) Busy(ctx context.Context, name string) (bool, string, error) {
	return h.Store.(store.BusyChecker).Busy(ctx, name)
}

// deleteByHand deletes a snapshot the way an operator would, behind the
// agent's back: the subvolume and its sidecar.
func (e *env) deleteByHand(name string) {
	e.t.Helper()
	sh(e.t, "btrfs", "subvolume", "delete", filepath.Join(e.mnt, "snaps", name))
	if err := os.Remove(filepath.Join(e.mnt, "snaps", ".rigplan", name)); err != nil {
		e.t.Fatal(err)
	}
}

// listNames is what ls shows the operator, one line per snapshot.
func (e *env) listNames() string {
	e.t.Helper()
	resp := e.ask(&protocol.Request{Command: protocol.CommandList})
	var out []string
	for _, rec := range resp.Records {
		s, err := protocol.ParseSnapshot(rec)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, s.Name)
	}
	return strings.Join(out, " ")
}
