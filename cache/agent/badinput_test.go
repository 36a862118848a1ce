package agent_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/retention"
	"github.com/rigplan/rigplan/cache/store"
)

// TestBadInput sends every kind of bad request the issue lists from
// inside a real machine, as the runner: each gets one error line with a
// reason, the agent keeps serving, and no snapshot or mount is left
// behind, on the host or in the machine. None of them even makes a
// snapshot first (the agent checks the target inside the machine before
// it creates one): the test hook counts the snapshots created, and the
// store's snapshots are counted before and after each request.
func TestBadInput(t *testing.T) {
	e := newEnv(t, 1)
	var created atomic.Int32
	e.serve(e.config(func(c *agent.Config) { c.Limits.MaxBytes = 1024 }), agent.Deps{Pause: func(step string) {
		if step == "created" {
			created.Add(1)
		}
	}})
	m := e.machine(0)
	m.Sh(t, machinetest.Runner, "ln -s /etc "+home+"/evil && mkdir "+home+"/dir && ln -s /etc "+home+"/dir/link && touch "+home+"/file && mkdir "+home+"/mnt")
	// A mount point the job's machine made itself.
	m.Sh(t, machinetest.Root, "mount -t tmpfs jobtmp "+home+"/mnt")

	for _, tt := range []struct {
		name, request string
		want          []string
	}{
		{"unknown command", "mnt " + cacheDir + "\n", []string{`unknown command "mnt"`, "mount, save"}},
		{"missing path", "mount\n", []string{"mount needs a path"}},
		{"relative path", "mount home/runner/cache\n", []string{"is relative"}},
		{"dotdot path", "mount /home/runner/../../etc\n", []string{`climbs with ".."`}},
		{"outside the allowed prefixes", "mount /etc/cache\n", []string{"outside the machine's allowed prefixes (/home/runner)"}},
		{"prefix lookalike", "mount /home/runner2/cache\n", []string{"outside the machine's allowed prefixes"}},
		{"symlink at the target to /etc", "mount " + home + "/evil\n", []string{"symlink", "refusing to follow"}},
		{"symlink above the target", "mount " + home + "/evil/cache\n", []string{"symlink"}},
		{"symlink deeper", "mount " + home + "/dir/link\n", []string{"symlink"}},
		{"missing parent", "mount " + home + "/no/such/dir\n", []string{"parent", "does not exist"}},
		{"a file at the target", "mount " + home + "/file\n", []string{"is not a directory inside the machine"}},
		{"a mount point at the target", "mount " + home + "/mnt\n", []string{"already a mount point"}},
		{"control byte in a term", "mount " + cacheDir + "\n> linux\a\n", []string{"line 2", "control character U+0007"}},
		{"not UTF-8", "mount " + cacheDir + "\n< \xff\xfe\n", []string{"line 2", "not valid UTF-8"}},
		{"inline comment", "mount " + cacheDir + "\n> linux # note\n", []string{`term "#" looks like a comment`}},
		{"over the size limit", "mount " + cacheDir + "\n# " + strings.Repeat("x", 2000) + "\n", []string{"longer than the limit of 1024 bytes"}},
		{"cut mid-line", "mount " + cacheDir + "\n> lin", []string{"ends inside this line", "disconnected"}},
		{"empty", "", []string{"the request is empty"}},
		{"save without a mount", "save " + cacheDir + "\n", []string{"no cache is mounted at " + cacheDir}},
		{"rm from a machine", "rm default\n", []string{"rm is for the host's operator"}},
		{"runner-config of a machine no runner block lists", "runner-config\n", []string{"no runner block lists machine"}},
		{"registration-token likewise", "registration-token\n", []string{"no runner block lists machine"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			createdBefore, snapsBefore := created.Load(), len(e.snapshots())
			errorLine(t, ncat(t, m, tt.request), tt.want...)
			if n := created.Load() - createdBefore; n != 0 {
				t.Errorf("the refused request made %d snapshots before it was refused", n)
			}
			if n := len(e.snapshots()); n != snapsBefore {
				t.Errorf("the store had %d snapshots before the refused request, %d after", snapsBefore, n)
			}
			e.noLeaks()
			if mountedIn(t, m, "/etc") || mountedIn(t, m, cacheDir) {
				t.Error("something was mounted in the machine")
			}
			if got := m.Sh(t, machinetest.Runner, "readlink "+home+"/evil"); got != "/etc" {
				t.Errorf("the planted symlink now reads %q", got)
			}
		})
	}
	if n := len(names(e.snapshots())); n != 0 {
		t.Errorf("bad requests made %d snapshots", n)
	}

	t.Run("never finishes", func(t *testing.T) {
		e := e.in(t)
		res, _ := m.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner, Timeout: 30 * time.Second,
			Args: []string{"sh", "-c", `(printf 'mount ` + cacheDir + `\n> lin'; sleep 6) | ncat -U ` + sockInMachine}})
		errorLine(t, string(res.Stdout), "not finished in time", "empty line")
		e.noLeaks()
	})
	t.Run("disconnects midway", func(t *testing.T) {
		e := e.in(t)
		// ncat --send-only closes the whole connection once it has sent
		// its input: the agent's answer has nowhere to go.
		res, err := m.Exec(context.Background(), machinetest.Cmd{UID: machinetest.Runner,
			Args: []string{"sh", "-c", `printf 'mount ` + cacheDir + `\n> linux ma' | ncat --send-only -U ` + sockInMachine}})
		if err != nil || len(res.Stdout) != 0 {
			t.Errorf("ncat --send-only: %q, %v", res.Stdout, err)
		}
		// And from the host: a client that writes half a request and
		// closes at once.
		conn, err := net.Dial("unix", e.socket)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte("mount /home/runner/ca"))
		conn.Close()
		e.waitServing()
		e.noLeaks()
	})
	t.Run("same path twice", func(t *testing.T) {
		e := e.in(t)
		first := okMount(t, ncat(t, m, "mount "+cacheDir+"\n"))
		errorLine(t, ncat(t, m, "mount "+cacheDir+"\n"), "already mounted at "+cacheDir, first.Snapshot)
		if got := e.states(); got[store.InUse] != 1 || got[store.Pending] != 0 {
			t.Errorf("states after a repeated mount: %v", got)
		}
		e.noLeaks()
	})
	t.Run("mount from the host", func(t *testing.T) {
		e := e.in(t)
		resp := e.ask(&protocol.Request{Command: protocol.CommandMount, Path: cacheDir})
		if resp.OK || !strings.Contains(resp.Reason, "mount is for jobs inside a declared machine") {
			t.Errorf("mount from host root: %+v", resp)
		}
	})
	t.Run("undeclared machine", func(t *testing.T) {
		e := e.in(t)
		name := fmt.Sprintf("rt-ag-stranger-%04x", rand.Uint32()&0xffff)
		stranger := e.startMachine(name)
		errorLine(t, ncat(t, stranger, originalRequest), fmt.Sprintf("machine %q, which is not declared", name), "only declared machines")
		e.noLeaks()
	})
	t.Run("unprivileged host process", func(t *testing.T) {
		res, _ := sysexecRun(t, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "ncat", "-U", e.socket)
		errorLine(t, res, "is not in a declared machine", "only declared machines")
	})
	e.waitServing()
}

// TestFullStore refuses a new snapshot when the store stays over its high
// watermark after retention ran (simulated with a watermark below the
// filesystem's own use), instead of letting writes fail later.
func TestFullStore(t *testing.T) {
	e := newEnv(t, 1)
	e.serve(e.config(func(c *agent.Config) {
		c.Retention = retention.Policy{DataHigh: 0.001, DataLow: 0.0005}
	}), depsNone())
	m := e.machine(0)
	errorLine(t, ncat(t, m, originalRequest), "too full for a new snapshot", "data use", "over the high watermark of 0.001%", "rigplan cache gc")
	if n := len(names(e.snapshots())); n != 0 {
		t.Errorf("a refused mount left %d snapshots", n)
	}
	if mountedIn(t, m, cacheDir) {
		t.Error("a refused mount mounted something")
	}
	e.noLeaks()
	stats := e.ask(&protocol.Request{Command: protocol.CommandStats})
	if !hasStat(stats, "retention.refused_full", "1") {
		t.Errorf("stats do not count the refusal: %+v", stats.Records)
	}
}

// TestPanicIsAnswered makes a handler panic half-way through a mount (at
// the step after the snapshot is mounted on the host): the client gets an
// error line, the request's steps are undone, the agent keeps serving.
func TestPanicIsAnswered(t *testing.T) {
	e := newEnv(t, 1)
	e.serve(e.config(nil), agent.Deps{Pause: func(step string) {
		if step == "staged" {
			panic("a bug in a handler")
		}
	}})
	m := e.machine(0)
	errorLine(t, ncat(t, m, originalRequest), "the cache agent failed at the request", "request 2")
	e.noLeaks()
	if n := len(names(e.snapshots())); n != 0 {
		t.Errorf("the panicked mount left snapshots: %v", names(e.snapshots()))
	}
	e.waitServing()
}

// hasStat reports whether a stats answer has key with value.
func hasStat(resp *protocol.Response, key, value string) bool {
	for _, rec := range resp.Records {
		if s, err := protocol.ParseStat(rec); err == nil && s.Key == key && s.Value == value {
			return true
		}
	}
	return false
}
