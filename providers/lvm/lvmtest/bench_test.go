package lvmtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/planner"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/testhost"
)

// BenchmarkPlan is issue 2's benchmark: `rigplan plan` of a config of
// volumes against a host with many LVs, through the real planner and the
// real LVM provider in the test kernel, next to a small host in the same
// run. For each host it measures
//
//   - host: a whole plan, commands included (a fresh provider each time,
//     as each CLI run has), and the commands it ran;
//   - in-process: the same plan with every command answered at once from
//     what the host run printed, which leaves rigplan's own work
//     (parsing, building states, reading superblocks, planning).
//
// and prints a table of both. The goal is 3 commands per plan (one lvs,
// vgs and pvs), whatever the size. Speed is only reported, never asserted.
//
// Building the large host takes about a minute (see buildBenchHost); `make
// bench` runs this, `make test` does not (it runs no benchmarks).
func BenchmarkPlan(b *testing.B) {
	sizes := []struct{ managed, unmanaged int }{
		{5, 4},     // with the pool: 10 LVs
		{500, 499}, // with the pool: 1,000 LVs
	}
	var rows []planRow
	for _, size := range sizes {
		b.Run(fmt.Sprintf("lvs=%d/volumes=%d", size.managed+size.unmanaged+1, size.managed), func(b *testing.B) {
			k := testhost.Kernel(b)
			disk := k.Disks()[0]
			start := time.Now()
			buildBenchHost(b, disk, size.managed, size.unmanaged)
			row := planRow{lvs: countLVs(b), volumes: size.managed, setup: time.Since(start)}
			src := benchConfig(disk, benchKeys(size.managed))
			// One plan first, untimed: it checks the host is what the
			// config says and records what the commands print, for the
			// in-process run.
			rec := &recording{Runner: sysexec.Host{}, results: map[string]recorded{}}
			planBench(b, src, rec, size.managed)

			b.Run("host", func(b *testing.B) {
				var plans, cmds int
				var total time.Duration
				for b.Loop() {
					count := &sysexec.Counter{Runner: rec}
					t0 := time.Now()
					planBench(b, src, count, size.managed)
					total += time.Since(t0)
					plans++
					cmds += count.Count()
				}
				row.cmds = float64(cmds) / float64(plans)
				row.wall = total / time.Duration(plans)
				b.ReportMetric(row.cmds, "cmds/op")
			})
			b.Run("in-process", func(b *testing.B) {
				replay := &replaying{rec: rec}
				var plans int
				var total time.Duration
				for b.Loop() {
					t0 := time.Now()
					planBench(b, src, replay, size.managed)
					total += time.Since(t0)
					plans++
				}
				row.inProcess = total / time.Duration(plans)
			})
			rows = append(rows, row)
		})
	}
	b.Logf("plan of a volume config through the real planner and LVM in the test kernel:\n%s", planTable(rows))
}

// planBench plans the bench config against the host with run and fails
// unless the plan holds no change (the host is what the config says).
func planBench(b *testing.B, src []byte, run sysexec.Runner, volumes int) {
	b.Helper()
	e := loadBench(b, src, run)
	plan, diags := e.Plan(context.Background(), planner.Options{})
	if diags.HasErrors() {
		b.Fatal(errs(diags))
	}
	if len(diags) > 0 {
		b.Fatalf("the plan warns (%d diagnostics), so it does not measure the steady state: %v", len(diags), diags[0])
	}
	if plan.HasChanges() || len(plan.Changes) != volumes+2 {
		var what []string
		for _, c := range plan.Changes {
			if c.Action != providers.NoOp {
				what = append(what, c.Action.String()+" "+c.Addr.String())
			}
		}
		b.Fatalf("the plan of %d instances holds %d entries and changes %v; want no change", volumes+2, len(plan.Changes), what)
	}
}

// planRow is one host's line of the table.
type planRow struct {
	lvs, volumes    int
	setup           time.Duration
	cmds            float64
	wall, inProcess time.Duration
}

func planTable(rows []planRow) string {
	var s strings.Builder
	w := tabwriter.NewWriter(&s, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "LVs on host\tvolumes in config\tcommands per plan\tplan wall time\tin-process\tcommands' share\tsetup\t")
	for _, r := range rows {
		share := 0.0
		if r.wall > 0 {
			share = 100 * float64(r.wall-r.inProcess) / float64(r.wall)
		}
		fmt.Fprintf(w, "%d\t%d\t%.0f\t%s\t%s\t%.0f%%\t%s\t\n", r.lvs, r.volumes, r.cmds,
			r.wall.Round(time.Millisecond), r.inProcess.Round(100*time.Microsecond), share, r.setup.Round(time.Second))
	}
	w.Flush()
	return s.String()
}

// recorded is what one command printed.
type recorded struct {
	res sysexec.Result
	err error
}

// recording runs commands and remembers the last result of each command
// line, for replaying.
type recording struct {
	sysexec.Runner
	mu      sync.Mutex
	results map[string]recorded
}

func (r *recording) Run(ctx context.Context, c sysexec.Cmd) (sysexec.Result, error) {
	res, err := r.Runner.Run(ctx, c)
	r.mu.Lock()
	r.results[c.String()] = recorded{res, err}
	r.mu.Unlock()
	return res, err
}

// replaying answers each command with what recording saw it print,
// without running it.
type replaying struct{ rec *recording }

func (r *replaying) Run(_ context.Context, c sysexec.Cmd) (sysexec.Result, error) {
	r.rec.mu.Lock()
	got, ok := r.rec.results[c.String()]
	r.rec.mu.Unlock()
	if !ok {
		return sysexec.Result{}, errors.New("not recorded: " + c.String())
	}
	return got.res, got.err
}
