package lvmtest

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/providers/lvm"
	"github.com/rigplan/rigplan/testhost"
)

// recorder remembers the commands run through it, to show what a step
// ran when its count is wrong.
type recorder struct {
	sysexec.Runner
	mu  sync.Mutex
	ran []string
}

func (r *recorder) Run(ctx context.Context, c sysexec.Cmd) (sysexec.Result, error) {
	r.mu.Lock()
	r.ran = append(r.ran, c.Name+" "+strings.Join(c.Args, " "))
	r.mu.Unlock()
	return r.Runner.Run(ctx, c)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.ran
	r.ran = nil
	return out
}

// costs drives one provider the way one CLI run does and checks what each
// step costs in external commands.
type costs struct {
	*env
	count *sysexec.Counter
	rec   *recorder
	// news are the states the run's applies returned, checked against an
	// independent refresh when the next run starts.
	news map[string]cty.Value
}

func newCosts(t *testing.T) *costs {
	k := testhost.Kernel(t)
	rec := &recorder{Runner: sysexec.Host{}}
	count := &sysexec.Counter{Runner: rec}
	return &costs{env: newEnvWith(t, k.Disks(), count), count: count, rec: rec}
}

// costs runs f and fails the test unless it ran exactly want commands.
func (c *costs) costs(what string, want int, f func()) {
	c.t.Helper()
	before := c.count.Count()
	c.rec.take()
	f()
	if got := c.count.Count() - before; got != want {
		c.t.Errorf("%s ran %d commands, want %d:\n  %s", what, got, want, strings.Join(c.rec.take(), "\n  "))
	}
}

// newRun starts a run with a fresh provider (as a new CLI run does) and
// refreshes: exactly one lvs, one vgs and one pvs, whatever the host holds.
func (c *costs) newRun() map[string]providers.Object {
	c.t.Helper()
	c.checkNews(c.news)
	c.news = map[string]cty.Value{}
	c.p = lvm.New(c.run, lvm.Options{TempDir: c.t.TempDir()})
	var objs map[string]providers.Object
	c.costs("refresh", 3, func() { objs = c.refresh() })
	return objs
}

// planApply plans one desired instance against prior (null for a create)
// and applies it, checking that the plan costs planCost commands and the
// apply applyCost.
func (c *costs) planApply(addr string, prior cty.Value, planCost, applyCost int) {
	c.t.Helper()
	ctx := context.Background()
	var inst providers.Instance
	for _, i := range c.desired {
		if i.Addr.String() == addr {
			inst = i
		}
	}
	res := c.schemas[inst.Addr.Type]
	action := providers.Update
	if prior == cty.NilVal {
		prior, action = cty.NullVal(res.ImpliedType()), providers.Create
	}
	var pr *providers.PlanResponse
	c.costs("plan "+addr, planCost, func() {
		pr = c.p.Plan(ctx, &providers.PlanRequest{Addr: inst.Addr, Config: inst.Config, Prior: prior})
	})
	if err := errs(pr.Diagnostics); err != nil {
		c.t.Fatalf("plan %s: %v", addr, err)
	}
	if !pr.Planned.IsWhollyKnown() {
		// The planner plans again at apply time, once what this depends
		// on exists; that must not read the host again.
		c.costs("plan "+addr+" again at apply", 0, func() {
			pr = c.p.Plan(ctx, &providers.PlanRequest{Addr: inst.Addr, Config: inst.Config, Prior: prior})
		})
	}
	var ar *providers.ApplyResponse
	c.costs(action.String()+" "+addr, applyCost, func() {
		ar = c.p.Apply(ctx, &providers.ApplyRequest{Addr: inst.Addr, Action: action, Prior: prior, Planned: pr.Planned})
	})
	if err := errs(ar.Diagnostics); err != nil {
		c.t.Fatalf("apply %s: %v", addr, err)
	}
	c.news[addr] = ar.New
}

// What a first apply of a group, a pool and a volume costs, and what
// changing, then deleting, them costs, in external commands. Each number
// is the honest minimum for what the step must do; the comments say why.
func TestApplyCommandCounts(t *testing.T) {
	c := newCosts(t)
	c.want("volume_group.main", "volume_group", map[string]cty.Value{"name": str(vg), "devices": strs(c.disks[0])})
	c.want("thin_pool.cache", "thin_pool", map[string]cty.Value{"volume_group": str(vg), "name": str("cache"), "size": str("2G")})
	c.want("volume.data", "volume", map[string]cty.Value{
		"thin_pool": str(vg + "/cache"), "name": str("data"), "size": str("300M"), "filesystem": str("xfs"), "uid": cty.NumberIntVal(1000),
	})

	c.newRun()
	// Plan: blkid -p on the new device (is it empty?). Plan again at
	// apply: the probe is remembered. Apply: pvcreate, vgcreate, and one
	// vgs reading the group with its PVs back.
	c.planApply("volume_group.main", cty.NilVal, 1, 3)
	// lvcreate, lvchange --errorwhenfull y (lvcreate refuses the option for
	// pools), one lvs of the pool. The group's extent size comes from the
	// group's read-back, not from another report.
	c.planApply("thin_pool.cache", cty.NilVal, 0, 3)
	// lvcreate, mkfs.xfs, one unshare running mount+chown+stat+umount,
	// lvchange recording owner and mode, one lvs of the volume.
	c.planApply("volume.data", cty.NilVal, 0, 5)

	// A new run changing the tags of all three: one vgchange or lvchange
	// each, and one narrow read-back.
	c.want("volume_group.main", "volume_group", map[string]cty.Value{"name": str(vg), "devices": strs(c.disks[0]), "tags": strs("site=a")})
	c.want("thin_pool.cache", "thin_pool", map[string]cty.Value{"volume_group": str(vg), "name": str("cache"), "size": str("2G"), "tags": strs("tier/fast")})
	c.want("volume.data", "volume", map[string]cty.Value{
		"thin_pool": str(vg + "/cache"), "name": str("data"), "size": str("300M"), "filesystem": str("xfs"), "uid": cty.NumberIntVal(1000),
		"tags": strs("default-origin"),
	})
	objs := c.newRun()
	c.planApply("volume_group.main", objs["volume_group.main"].State, 0, 2)
	c.planApply("thin_pool.cache", objs["thin_pool.cache"].State, 0, 2)
	c.planApply("volume.data", objs["volume.data"].State, 0, 2)

	// Deleting: lvchange -an and lvremove for the volume and the pool
	// (the pool's emptiness is checked in the run's view, which knows the
	// volume is gone), vgremove and pvremove for the group. Nothing is
	// read back: LVM's exit status says the object is gone.
	c.desired = nil
	objs = c.newRun()
	c.costs("delete in order", 6, func() {
		if err := c.deleteOrphans(objs); err != nil {
			t.Fatal(err)
		}
	})
	if left := c.independent(); len(left) != 0 {
		t.Errorf("after deleting everything refresh finds %v", left)
	}
}
