package lvmagent

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/mountinfo"
)

// TestHostileLVM is package agent's hostile tests of privilege and of a
// full store, on the LVM store: a thin pool of 256 MiB under a default
// volume of 2 GiB (xfs), error_when_full as the project's examples set
// it, four jobs in four machines.
//
// No privilege through a cache: machine root in job A leaves a
// setuid-root id(1) in its cache; job B gets a thin snapshot of A's
// sealed cache, and its runner runs that program with its own uid. The
// cache's mount in B is nosuid,nodev.
//
// A full pool is an answer and heals: job C writes into its cache until
// the pool has no room; job D's mount is refused with one error line
// naming the pool and its use; C's machine exits and its snapshot is
// sealed all the same (tags and deactivation need no pool space); the
// operator's rm deletes it; D asks again and gets A's or B's cache.
// Nothing is left pending or mounted on the host.
//
// The agent runs without space watermarks, so the refusal is the
// store's own (LVM makes no thin volume in a full pool) and nothing but
// the operator frees space; TestHostileLVMRetention is the same pool
// with watermarks.
func TestHostileLVM(t *testing.T) {
	e := newEnv(t, pool{size: "256M", volume: "2G", errorWhenFull: true}, 4)
	e.serve(nil)

	// A: machine root plants a setuid-root program.
	a := e.machine(0)
	ma := okMount(t, ncat(t, a, "mount "+cacheDir+"\n< linux\n"))
	a.Sh(t, machinetest.Root, "cp /usr/bin/id "+cacheDir+"/id && chmod 4755 "+cacheDir+"/id")
	e.powerOff(a, ma.Snapshot)

	// B: the runner of a later job runs it.
	b := e.machine(1)
	mb := okMount(t, ncat(t, b, "mount "+cacheDir+"\n> linux\n< linux\n"))
	if s, _ := e.snapshot(mb.Snapshot); mb.Default || s.Origin != ma.Snapshot {
		t.Fatalf("job B: %+v (origin %q), want a thin snapshot of job A's %s", mb, s.Origin, ma.Snapshot)
	}
	// As B sees it, the program belongs to its root and is setuid: what
	// an attacker planted is there, whole.
	if got := b.Sh(t, machinetest.Runner, "stat -c '%u %a' "+cacheDir+"/id"); got != "0 4755" {
		t.Fatalf("job A's program in job B's cache: owner and mode %q, want a setuid-root file (0 4755)", got)
	}
	if got := b.Sh(t, machinetest.Runner, cacheDir+"/id -u"); got != "1000" {
		t.Errorf("job B's runner ran job A's setuid-root program with effective uid %s, want 1000", got)
	}
	line := b.Sh(t, machinetest.Runner, "grep ' "+cacheDir+" ' /proc/self/mountinfo")
	if m, err := mountinfo.Parse(strings.NewReader(line + "\n")); err != nil || len(m) != 1 {
		t.Errorf("the cache's mount in job B: %q (%v), want one mountinfo line", line, err)
	} else if opts := strings.Split(m[0].Options, ","); !slices.Contains(opts, "nosuid") || !slices.Contains(opts, "nodev") {
		t.Errorf("the cache's mount in job B: %q, want nosuid,nodev", line)
	}
	e.powerOff(b, mb.Snapshot)
	e.noLeaks()

	// C: a job fills the pool through its cache, synced write by synced
	// write, until one fails.
	c := e.machine(2)
	mc := okMount(t, ncat(t, c, "mount "+cacheDir+"\n> linux\n"))
	e.fill(c)

	// D: its mount is an answer naming the pool and its use.
	d := e.machine(3)
	reason := errorLine(t, ncat(t, d, "mount "+cacheDir+"\n> linux\n"), "thin pool "+vg+"/"+poolLV, "data 100.0% used")
	if strings.Contains(reason, "the cache agent failed") {
		t.Errorf("job D's mount on a full pool: %q, want the store's answer, not the agent's failure", reason)
	}
	for _, n := range []string{ma.Snapshot, mb.Snapshot} {
		if s, ok := e.snapshot(n); !ok || s.State != store.Sealed {
			t.Errorf("sealed cache %s after the refusal: %+v (present %v); the full pool is job C's doing", n, s, ok)
		}
	}
	e.noLeaks()

	// C's machine exits: its snapshot is sealed on the full pool.
	e.powerOff(c, mc.Snapshot)
	if u, err := e.store.Usage(context.Background()); err != nil || u.DataPercent < 100 {
		t.Errorf("the pool when job C's snapshot was sealed: %v (%v), want still 100%% data", u, err)
	}
	if attr, tags := lv(t, mc.Snapshot); !strings.Contains(tags, namespace+":state:sealed") || len(attr) > 4 && attr[4] == 'a' {
		t.Errorf("job C's snapshot once its machine exited: lv_attr %s, tags %s; want sealed and inactive", attr, tags)
	}
	if resp := e.operator(&protocol.Request{Command: protocol.CommandRemove, Name: mc.Snapshot}); !resp.OK {
		t.Fatalf("the operator's rm of job C's sealed snapshot: %s", resp.Reason)
	}
	e.waitState(mc.Snapshot, "")
	if out := sh(t, "lvs", "--noheadings", "-o", "lv_name", vg); strings.Contains(out, mc.Snapshot) {
		t.Errorf("LVM still has job C's snapshot after rm:\n%s", out)
	}

	// D asks again and gets a cache: A's or B's.
	md := okMount(t, ncat(t, d, "mount "+cacheDir+"\n> linux\n"))
	if s, _ := e.snapshot(md.Snapshot); md.Default || s.Origin != ma.Snapshot && s.Origin != mb.Snapshot {
		t.Errorf("job D once the pool had room: %+v (origin %q), want a thin snapshot of %s or %s", md, s.Origin, ma.Snapshot, mb.Snapshot)
	}
	if got := d.Sh(t, machinetest.Runner, "cat "+cacheDir+"/"+defaultFile+" && "+cacheDir+"/id -u"); got != "default\n1000" {
		t.Errorf("job D's cache: %q, want the default volume's file and job A's program, inert", got)
	}
	e.noLeaks()
	e.powerOff(d, md.Snapshot)
	e.noLeaks()
}
