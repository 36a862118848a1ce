package lvmagent

import (
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/retention"
	"github.com/rigplan/rigplan/cache/store"
)

// sealedInLVM fails t unless LVM itself still has every snapshot of
// names, tagged sealed.
func sealedInLVM(t *testing.T, when string, names ...string) {
	t.Helper()
	tags := map[string]string{}
	for _, line := range strings.Split(sh(t, "lvs", "--noheadings", "-o", "lv_name,lv_tags", vg), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			tags[f[0]] = f[1]
		}
	}
	for _, n := range names {
		if tg, ok := tags[n]; !ok {
			t.Errorf("%s: LVM no longer has sealed cache %s: deleting it could not give back the filling job's space", when, n)
		} else if !strings.Contains(tg, namespace+":state:sealed") {
			t.Errorf("%s: LVM has cache %s with tags %q, want it sealed", when, n, tg)
		}
	}
}

// TestHostileLVMRetention is TestHostileLVM's full pool with the space
// watermarks of the cache block's defaults (90/80): retention runs
// before every mount on a pool over 90%, and must not delete the other
// jobs' sealed caches for space that only the filling job, still
// running, can give back. The LVM store reports what each snapshot in
// use wrote beyond its origin (store.Snapshot.Size), and the agent
// subtracts it. Two jobs ask while the pool is full: one of the caches'
// annotation set, whose mount pins its origin, and one of another set,
// whose origin is the default volume, so that nothing but retention's
// own rule protects the sealed caches. Both are refused with an answer
// naming the pool and what the caches in use hold, and LVM still has
// every sealed cache. Once the filling job's machine exits, its
// snapshot is sealed, the operator's rm deletes it, and both jobs get a
// cache: the first one of the caches made before the pool filled.
func TestHostileLVMRetention(t *testing.T) {
	e := newEnv(t, pool{size: "256M", volume: "2G", errorWhenFull: true}, 5)
	e.serve(func(c *agent.Config) {
		c.Retention = retention.Policy{DataHigh: 90, DataLow: 80, MetadataHigh: 90, MetadataLow: 80}
	})

	// A and B: caches of the set "linux", sealed.
	a := e.machine(0)
	ma := okMount(t, ncat(t, a, "mount "+cacheDir+"\n< linux\n"))
	a.Sh(t, machinetest.Runner, "echo precious > "+cacheDir+"/data")
	e.powerOff(a, ma.Snapshot)
	b := e.machine(1)
	mb := okMount(t, ncat(t, b, "mount "+cacheDir+"\n> linux\n< linux\n"))
	e.powerOff(b, mb.Snapshot)
	sealed := []string{ma.Snapshot, mb.Snapshot}

	// C fills the pool through its cache and goes on running.
	c := e.machine(2)
	mc := okMount(t, ncat(t, c, "mount "+cacheDir+"\n> linux\n"))
	e.fill(c)
	if s, _ := e.snapshot(mc.Snapshot); s.Size < 128<<20 {
		t.Errorf("the filling job's snapshot has Size %d bytes, want most of the 256 MiB pool", s.Size)
	}

	// D (the caches' set) and E (another set) are refused; every sealed
	// cache stays.
	d, x := e.machine(3), e.machine(4)
	for _, ask := range []struct {
		m    *machinetest.Machine
		text string
	}{{d, "mount " + cacheDir + "\n> linux\n"}, {x, "mount " + cacheDir + "\n> windows\n< windows\n"}} {
		reason := errorLine(t, ncat(t, ask.m, ask.text), "thin pool "+vg+"/"+poolLV, "data use 100.0%", "held by caches in use")
		t.Logf("refused as expected: %s", reason)
		sealedInLVM(t, "after the refusal of "+strings.ReplaceAll(ask.text, "\n", " "), sealed...)
	}
	e.noLeaks()

	// C's machine exits: its snapshot is sealed; the operator deletes it.
	e.powerOff(c, mc.Snapshot)
	if resp := e.operator(&protocol.Request{Command: protocol.CommandRemove, Name: mc.Snapshot}); !resp.OK {
		t.Fatalf("the operator's rm of the filling job's sealed snapshot: %s", resp.Reason)
	}
	e.waitState(mc.Snapshot, "")

	// D gets A's or B's cache, E a fresh one; A and B are still there.
	md := okMount(t, ncat(t, d, "mount "+cacheDir+"\n> linux\n"))
	if s, _ := e.snapshot(md.Snapshot); md.Default || s.Origin != ma.Snapshot && s.Origin != mb.Snapshot {
		t.Errorf("job D once the pool had room: %+v (origin %q), want a thin snapshot of %s or %s", md, s.Origin, ma.Snapshot, mb.Snapshot)
	}
	if got := d.Sh(t, machinetest.Runner, "cat "+cacheDir+"/data"); got != "precious" {
		t.Errorf("job D's cache holds %q, want what job A wrote", got)
	}
	mx := okMount(t, ncat(t, x, "mount "+cacheDir+"\n> windows\n< windows\n"))
	if !mx.Default {
		t.Errorf("job E once the pool had room: %+v, want a snapshot of the default volume", mx)
	}
	sealedInLVM(t, "once the pool had room", sealed...)
	e.noLeaks()
	e.powerOff(d, md.Snapshot)
	e.powerOff(x, mx.Snapshot)
	for _, n := range append(sealed, md.Snapshot, mx.Snapshot) {
		if s, ok := e.snapshot(n); !ok || s.State != store.Sealed {
			t.Errorf("cache %s at the end: %+v (present %v), want sealed", n, s, ok)
		}
	}
	e.noLeaks()
}
