package agent_test

import (
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/retention"
	"github.com/rigplan/rigplan/cache/store"
)

// A job that fills the store wedges nothing. While it holds the space,
// the next job's mount is refused with an answer naming the store and
// how full it is (not "the cache agent failed"), and the sealed caches
// are kept: deleting them would not give the job's space back. When the
// job's machine exits, its snapshot is sealed although the store is
// full; the operator's rm deletes it; the next mount gets a cache again,
// and the caches made before are still there. (btrfs quotas are on, so
// the store knows what the job's snapshot holds; there is no limit.)
func TestHostileFullStore(t *testing.T) {
	e := newEnvSize(t, 4, 512<<20)
	sh(t, "btrfs", "quota", "enable", e.mnt)
	e.serve(e.config(func(c *agent.Config) {
		c.Retention = retention.Policy{DataHigh: 80, DataLow: 60}
	}), depsNone())

	var seeds []string
	for i := range 2 {
		m := e.machine(i)
		got := okMount(t, ncat(t, m, "mount "+cacheDir+"\n< seed\n"))
		m.Sh(t, machinetest.Runner, "echo precious > "+cacheDir+"/data")
		powerOff(t, m)
		e.waitState(got.Snapshot, store.Sealed)
		seeds = append(seeds, got.Snapshot)
	}

	hostile := e.machine(2)
	filler := okMount(t, ncat(t, hostile, "mount "+cacheDir+"\n"))
	hostile.Exec(t.Context(), machinetest.Cmd{UID: machinetest.Runner, Args: []string{"sh", "-c",
		"dd if=/dev/urandom of=" + cacheDir + "/fill bs=1M 2>/dev/null; sync"}})

	neighbour := e.machine(3)
	errorLine(t, ncat(t, neighbour, "mount "+cacheDir+"\n> seed\n"), "btrfs filesystem at", "data use 100.0%", "held by caches in use")
	for _, s := range seeds {
		if got, ok := e.snapshot(s); !ok || got.State != store.Sealed {
			t.Errorf("sealed cache %s after the refusal: %+v (present %v); deleting it would not have freed the job's space", s, got, ok)
		}
	}

	powerOff(t, hostile)
	e.waitState(filler.Snapshot, store.Sealed)
	if resp := e.ask(&protocol.Request{Command: protocol.CommandRemove, Name: filler.Snapshot}); !resp.OK {
		t.Fatalf("rm of the full job's sealed snapshot: %s", resp.Reason)
	}
	e.waitState(filler.Snapshot, "")
	healed := okMount(t, ncat(t, neighbour, "mount "+home+"/again\n> seed\n"))
	if healed.Default {
		t.Errorf("after the space came back, the mount did not find the seed caches: %+v", healed)
	}
	if got := neighbour.Sh(t, machinetest.Runner, "cat "+home+"/again/data"); got != "precious" {
		t.Errorf("the healed mount holds %q", got)
	}
	if n := strings.Count(e.listNames(), "cache-"); n < 3 {
		t.Errorf("%d snapshots left, want the two seeds and the new one", n)
	}
	e.noLeaks()
}
