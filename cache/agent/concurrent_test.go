package agent_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/retention"
	"github.com/rigplan/rigplan/cache/store"
)

// TestTwentyAtOnce sends twenty mount requests at once from four
// machines, all matching one sealed cache, while the operator runs gc
// over and over: each request gets its own snapshot, nothing deadlocks,
// the origin in use by the creates is not deleted, and after the machines
// power off every snapshot is sealed and nothing is left behind. Then gc
// keeps the newest one of the annotation set.
func TestTwentyAtOnce(t *testing.T) {
	const machines, perMachine = 4, 5
	e := newEnv(t, machines+1)
	e.serve(e.config(func(c *agent.Config) {
		c.Retention = retention.Policy{KeepPerSet: 1}
		c.MaxCreates = 3 // fewer slots than requests: they queue
	}), depsNone())

	warm := e.machine(machines)
	origin := okMount(t, ncat(t, warm, "mount "+cacheDir+"\n< linux\n"))
	warm.Sh(t, machinetest.Runner, "echo warm > "+cacheDir+"/state")
	powerOff(t, warm)
	e.waitState(origin.Snapshot, store.Sealed)

	ms := make([]*machinetest.Machine, machines)
	for i := range ms {
		ms[i] = e.machine(i)
	}
	var wg sync.WaitGroup
	results := make(chan string, machines*perMachine)
	start := make(chan struct{})
	for _, m := range ms {
		for j := range perMachine {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results <- ncat(t, m, fmt.Sprintf("mount %s/c%d\n> linux\n< linux\n", home, j))
			}()
		}
	}
	stopGC := make(chan struct{})
	gcDone := make(chan struct{})
	go func() {
		defer close(gcDone)
		for {
			select {
			case <-stopGC:
				return
			default:
			}
			if resp, err := e.try(&protocol.Request{Command: protocol.CommandGC}); err != nil || !resp.OK {
				t.Errorf("gc during the storm: %+v %v", resp, err)
				return
			}
		}
	}()
	close(start)
	wg.Wait()
	close(stopGC)
	<-gcDone
	close(results)

	seen := map[string]bool{}
	for out := range results {
		if !strings.HasPrefix(out, "ok\t") {
			t.Errorf("a request failed: %q", out)
			continue
		}
		m := okMount(t, out)
		if seen[m.Snapshot] || m.Default {
			t.Errorf("answer %+v: a snapshot handed out twice, or not a copy of the sealed cache", m)
		}
		seen[m.Snapshot] = true
	}
	if len(seen) != machines*perMachine {
		t.Fatalf("%d distinct snapshots for %d requests", len(seen), machines*perMachine)
	}
	for name := range seen {
		s, ok := e.snapshot(name)
		if !ok || s.State != store.InUse || s.Origin != origin.Snapshot {
			t.Errorf("snapshot %s: %+v (present %v), want in use, from %s", name, s, ok, origin.Snapshot)
		}
	}
	for i, m := range ms {
		for j := range perMachine {
			if got := m.Sh(t, machinetest.Runner, fmt.Sprintf("cat %s/c%d/state", home, j)); got != "warm" {
				t.Errorf("machine %d, c%d: reads %q", i, j, got)
			}
		}
	}
	e.noLeaks()

	for _, m := range ms {
		powerOff(t, m)
	}
	for name := range seen {
		e.waitState(name, store.Sealed)
	}
	e.noLeaks()

	dry, err := protocol.ParseGCResult(e.ask(&protocol.Request{Command: protocol.CommandGC, DryRun: true}))
	if err != nil || !dry.DryRun || len(dry.Deleted) != machines*perMachine {
		t.Fatalf("gc dry-run: %+v, %v; want %d deletions listed", dry, err, machines*perMachine)
	}
	if n := len(names(e.snapshots())); n != machines*perMachine+1 {
		t.Errorf("the dry run deleted something: %d snapshots left", n)
	}
	done, err := protocol.ParseGCResult(e.ask(&protocol.Request{Command: protocol.CommandGC}))
	if err != nil || len(done.Deleted) != machines*perMachine || !strings.Contains(done.Deleted[0].Reason, "1 newer sealed snapshots have the same annotations {linux}") {
		t.Fatalf("gc: %+v, %v", done, err)
	}
	// The newest of the set is one of the twenty.
	if left := names(e.snapshots()); len(left) != 1 || !seen[left[0]] {
		t.Errorf("after gc: %v, want the newest of the twenty", left)
	}
}

func powerOff(t testing.TB, m *machinetest.Machine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.PowerOff(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestProcessMemory runs the agent as its own process, serves twenty
// concurrent mounts from four machines and reads its resident memory
// from stats: the goal is at most 20 MB.
func TestProcessMemory(t *testing.T) {
	const machines, perMachine = 4, 5
	e := newEnv(t, machines)
	p := e.startProcess(e.writeConfig(agent.CommitOnExit), "")
	defer p.stop()
	var wg sync.WaitGroup
	fails := make(chan string, machines*perMachine)
	for i := range machines {
		m := e.machine(i)
		for j := range perMachine {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if out := ncat(t, m, fmt.Sprintf("mount %s/c%d\n> linux\n< linux\n", home, j)); !strings.HasPrefix(out, "ok\t") {
					fails <- out
				}
			}()
		}
	}
	wg.Wait()
	close(fails)
	for f := range fails {
		t.Errorf("a mount failed: %q", f)
	}
	stats := e.ask(&protocol.Request{Command: protocol.CommandStats})
	for _, rec := range stats.Records {
		s, _ := protocol.ParseStat(rec)
		if s.Key == "agent.rss_bytes" || s.Key == "agent.goroutines" || s.Key == "snapshots.in_use" {
			t.Logf("%s %s", s.Key, s.Value)
		}
		if s.Key == "agent.rss_bytes" {
			rss, err := strconv.Atoi(s.Value)
			if err != nil || rss > 20<<20 {
				t.Errorf("the agent's resident memory is %s bytes after twenty mounts, over the goal of 20 MB", s.Value)
			}
		}
	}
	if n := e.states()[store.InUse]; n != machines*perMachine {
		t.Errorf("%d snapshots in use, want %d", n, machines*perMachine)
	}
}
