package agent_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/retention"
	"github.com/rigplan/rigplan/cache/store"
)

// TestAdmin runs the operator's commands from root on the host: ls and
// stats show the state, rm deletes a sealed snapshot but never the
// default volume or one in use, gc with a dry run lists what would go.
// The clock is two days ahead, so every snapshot is older than the one
// day retention keeps.
func TestAdmin(t *testing.T) {
	e := newEnv(t, 2)
	e.serve(e.config(func(c *agent.Config) { c.Retention = retention.Policy{MaxAge: 24 * time.Hour} }),
		agent.Deps{Now: func() time.Time { return time.Now().Add(48 * time.Hour) }})
	done := e.machine(0)
	sealed := okMount(t, ncat(t, done, "mount "+cacheDir+"\n< old\n"))
	powerOff(t, done)
	e.waitState(sealed.Snapshot, store.Sealed)
	running := e.machine(1)
	okMount(t, ncat(t, running, "mount "+cacheDir+"\n< other\n"))
	busy := okMount(t, ncat(t, running, "mount "+home+"/busy\n"))

	ls := e.ask(&protocol.Request{Command: protocol.CommandList})
	var listed []protocol.Snapshot
	for _, rec := range ls.Records {
		s, err := protocol.ParseSnapshot(rec)
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, s)
	}
	if len(listed) != 3 || listed[0].Name != sealed.Snapshot || !listed[0].Sealed || listed[0].Machine != e.declared[0] ||
		!listed[2].InUse || listed[2].Machine != e.declared[1] || listed[0].Annotations[0] != "old" {
		t.Errorf("ls: %+v", listed)
	}

	stats := e.ask(&protocol.Request{Command: protocol.CommandStats})
	got := map[string]string{}
	for _, rec := range stats.Records {
		s, _ := protocol.ParseStat(rec)
		got[s.Key] = s.Value
	}
	rss, _ := strconv.Atoi(got["agent.rss_bytes"])
	if got["snapshots.in_use"] != "2" || got["snapshots.sealed"] != "1" || got["store.default"] != "default" ||
		rss <= 0 || got["machines.watched"] != "1" || got["snapshots.finished"] != "1" {
		t.Errorf("stats: %v", got)
	}
	if pct, err := strconv.ParseFloat(got["store.data_percent"], 64); err != nil || pct <= 0 {
		t.Errorf("store.data_percent %q", got["store.data_percent"])
	}

	for _, tt := range []struct{ name, want string }{
		{"default", "the default volume, which the agent never deletes"},
		{busy.Snapshot, "is in use (machine " + e.declared[1] + ")"},
		{"cache-nope", "no snapshot cache-nope; rigplan cache ls lists them"},
		{"../etc", `snapshot name "../etc"`},
	} {
		resp := e.ask(&protocol.Request{Command: protocol.CommandRemove, Name: tt.name})
		if resp.OK || !strings.Contains(resp.Reason, tt.want) {
			t.Errorf("rm %s: %+v, want a refusal with %q", tt.name, resp, tt.want)
		}
	}

	dry, err := protocol.ParseGCResult(e.ask(&protocol.Request{Command: protocol.CommandGC, DryRun: true}))
	if err != nil || len(dry.Deleted) != 1 || dry.Deleted[0].Name != sealed.Snapshot || !strings.Contains(dry.Deleted[0].Reason, "over the maximum age of 24h0m0s") {
		t.Errorf("gc dry-run: %+v, %v; want only the sealed one, for its age", dry, err)
	}
	if _, ok := e.snapshot(sealed.Snapshot); !ok {
		t.Fatal("gc dry-run deleted")
	}
	rm, err := protocol.ParseRemoveResult(e.ask(&protocol.Request{Command: protocol.CommandRemove, Name: sealed.Snapshot}))
	if err != nil || rm.Snapshot != sealed.Snapshot {
		t.Fatalf("rm: %+v, %v", rm, err)
	}
	if _, ok := e.snapshot(sealed.Snapshot); ok {
		t.Error("rm left the snapshot")
	}
	if g, err := protocol.ParseGCResult(e.ask(&protocol.Request{Command: protocol.CommandGC})); err != nil || len(g.Deleted) != 0 {
		t.Errorf("gc with only in-use snapshots: %+v, %v", g, err)
	}
	if n := e.states()[store.InUse]; n != 2 {
		t.Errorf("%d snapshots in use after gc, want 2", n)
	}
	e.noLeaks()
}

// TestPeriodicRetention lets the periodic pass delete what is too old,
// and never what is in use.
func TestPeriodicRetention(t *testing.T) {
	e := newEnv(t, 2)
	e.serve(e.config(func(c *agent.Config) {
		c.Retention = retention.Policy{MaxAge: 24 * time.Hour}
		c.RetentionInterval = 50 * time.Millisecond
	}), agent.Deps{Now: func() time.Time { return time.Now().Add(48 * time.Hour) }})
	first := e.machine(0)
	old := okMount(t, ncat(t, first, "mount "+cacheDir+"\n"))
	live := okMount(t, ncat(t, e.machine(1), "mount "+cacheDir+"\n"))
	powerOff(t, first)
	e.waitState(old.Snapshot, "")
	// Many passes later, the one in use is still there.
	time.Sleep(300 * time.Millisecond)
	if s, ok := e.snapshot(live.Snapshot); !ok || s.State != store.InUse {
		t.Errorf("the snapshot in use: %+v (present %v)", s, ok)
	}
	e.noLeaks()
}
