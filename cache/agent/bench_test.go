package agent_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/cache/store/storetest"
)

// The cache BenchmarkRestore restores: node_modules-like, 100,000 files,
// about 1 GiB, of which 100 large files hold 40%.
var (
	bigTree   = storetest.TreeSpec{Files: 100_000, Bytes: 1 << 30, Seed: 1}
	smallTree = storetest.TreeSpec{Files: 100, Bytes: 1 << 20, Seed: 2}
)

// BenchmarkRestore prints, measured side by side in one run, what it
// costs a job to get a cache of 100,000 files (about 1 GiB):
//
//   - agent-big: the agent (its own process, `rigplan cache serve`, on
//     the btrfs store on a loop device) restores it, end to end: from
//     the moment a job in a real nspawn machine starts the original
//     setup's `ncat -U` request to the moment ncat exits with the ok
//     line, the snapshot mounted in the machine. Timed inside the
//     machine, one request after another.
//   - agent-small: the same for a cache of 100 files (1 MiB): restores
//     must not grow with the cache's size.
//   - ncat-echo: an echo request sent the same way: what the shell, ncat
//     and the connection cost, the floor under every request above.
//   - store-big: the btrfs store alone, from the host: snapshot and
//     bind-mount the big cache (what the agent's request adds is the
//     difference).
//   - tar, tar-zstd: `tar -x` and `tar --zstd -x` of the same tree from a
//     tarball on the same filesystem into a fresh subvolume (what a
//     tarball cache does after its download; the tarball is in the page
//     cache). Timed until tar exits; the sync after it is not timed.
//   - agent-20-clients: twenty clients in four machines asking at the
//     same moment, each for its own mount of the big cache, in rounds:
//     request latency p50 and p99 under contention (the agent makes at
//     most agent.DefaultMaxCreates snapshots at a time).
//
// Then it prints a table of the figures and their ratios, with the
// agent's own time per request beside its rows (the took= of its log:
// from accepting the connection to the answer), and the agent's peak
// resident memory (VmHWM of its process).
//
// Nothing here asserts on time (shared/TESTING.md). Building the tree
// and the tarballs takes a minute or two; `make bench` runs it.
//
//	go test ./cache/agent -run '^$' -bench Restore
func BenchmarkRestore(b *testing.B) {
	for _, tool := range []string{"tar", "zstd", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("needs %s (Debian packages tar, zstd, bash)", tool)
		}
	}
	// The tree, two tarballs of it, one extraction at a time and
	// btrfs's metadata, with room to spare.
	e := newEnvSize(b, 4, 8<<30)
	log := &agentLog{path: filepath.Join(b.TempDir(), "agent.log")}
	logf, err := os.Create(log.path)
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	e.agentLog = logf

	start := time.Now()
	big, bigStats := e.sealedTree("bench-big", "big", bigTree)
	_, smallStats := e.sealedTree("bench-small", "small", smallTree)
	built := time.Since(start)
	tarballs := filepath.Join(e.mnt, "tarballs")
	if err := os.Mkdir(tarballs, 0o700); err != nil {
		b.Fatal(err)
	}
	tarball, zstball := filepath.Join(tarballs, "cache.tar"), filepath.Join(tarballs, "cache.tar.zst")
	sh(b, "tar", "-C", big, "-cf", tarball, ".")
	sh(b, "tar", "-C", big, "--zstd", "-cf", zstball, ".")
	sh(b, "sync")
	b.Logf("cache: %v, built in %v; small cache: %v", bigStats, built.Round(time.Second), smallStats)

	p := e.startProcess(e.writeConfig(agent.CommitOnExit), "")
	ms := make([]*machinetest.Machine, len(e.declared))
	for i := range ms {
		ms[i] = e.machine(i)
		ms[i].Sh(b, machinetest.Runner, "mkdir -p "+benchDir)
	}

	var res struct{ big, small, echo, store, tar, zstd, many measured }
	sequential := func(m *measured, term string) func(*testing.B) {
		return func(b *testing.B) {
			log.skip(b)
			m.client, _ = restores(b, ms[:1], 1, max(b.N, minRestores), term)
			m.agent = log.took(b)
			reportSamples(b, m.client, 0)
		}
	}
	b.Run("agent-big", sequential(&res.big, "big"))
	b.Run("agent-small", sequential(&res.small, "small"))
	b.Run("ncat-echo", sequential(&res.echo, ""))
	b.Run("store-big", func(b *testing.B) {
		res.store.client = storeRestores(b, e, max(b.N, minRestores), "bench-big")
	})
	b.Run("tar", func(b *testing.B) {
		res.tar.client = extractions(b, e, b.N, "-xf", tarball)
	})
	b.Run("tar-zstd", func(b *testing.B) {
		res.zstd.client = extractions(b, e, b.N, "--zstd", "-xf", zstball)
	})
	b.Run("agent-20-clients", func(b *testing.B) {
		// Rounds of twenty jobs that start at the same moment, as a
		// workflow's matrix does, each round once the last is served.
		const clients = 20
		var wall time.Duration
		res.many = measured{}
		log.skip(b)
		for range max((b.N+clients-1)/clients, minRestores/4) {
			s, w := restores(b, ms, clients/len(ms), 1, "big")
			res.many.client = append(res.many.client, s...)
			wall += w
		}
		res.many.agent = log.took(b)
		reportSamples(b, res.many.client, wall)
	})

	peak, now := procStatus(b, p.cmd.Process.Pid, "VmHWM"), procStatus(b, p.cmd.Process.Pid, "VmRSS")
	tarSize, zstSize := fileSize(b, tarball), fileSize(b, zstball)

	var out strings.Builder
	fmt.Fprintf(&out, "\nrestore of a cache of %v\n", bigStats)
	fmt.Fprintf(&out, "on btrfs (loop device), side by side in one run; tarballs %.0f MiB (tar), %.0f MiB (zstd)\n",
		float64(tarSize)/(1<<20), float64(zstSize)/(1<<20))
	base := res.big.client.quantile(0.5)
	row := func(what string, m measured) {
		p99, ratio, own := "-", "-", "-"
		if len(m.client) >= 20 {
			p99 = ms3(m.client.quantile(0.99))
		}
		if len(m.client) > 0 && base > 0 {
			ratio = times(float64(m.client.quantile(0.5)) / float64(base))
		}
		if len(m.agent) > 0 {
			own = ms3(m.agent.quantile(0.5)) + " / " + ms3(m.agent.quantile(0.99))
		}
		fmt.Fprintf(&out, "  %-42s %5d %9s %9s %9s   %s\n", what, len(m.client), ms3(m.client.quantile(0.5)), p99, ratio, own)
	}
	fmt.Fprintf(&out, "  %-42s %5s %9s %9s %9s   %s\n", "", "runs", "median", "p99", "/ agent", "agent's own median / p99")
	row(fmt.Sprintf("agent, %d-file cache, end to end", bigStats.Files), res.big)
	row(fmt.Sprintf("agent, %d-file cache, end to end", smallStats.Files), res.small)
	row("ncat echo round trip (the client's floor)", res.echo)
	row("store alone: btrfs snapshot + bind mount", res.store)
	row("tar -x", res.tar)
	row("tar --zstd -x", res.zstd)
	row("agent, 20 clients at once, latency", res.many)
	fmt.Fprintf(&out, "agent process: peak resident memory (VmHWM) %.1f MiB, at the end (VmRSS) %.1f MiB\n", float64(peak)/(1<<20), float64(now)/(1<<20))
	fmt.Fprint(os.Stdout, out.String())
}

// measured are the latencies of one row: as the job (or the host, for
// the store and tar) saw them, and as the agent logged them.
type measured struct{ client, agent samples }

// agentLog reads the agent process's log: how long the agent itself
// took for each request it served ("took" of its request lines).
type agentLog struct {
	path string
	off  int64
}

// skip moves past everything logged so far.
func (l *agentLog) skip(b *testing.B) {
	fi, err := os.Stat(l.path)
	if err != nil {
		b.Fatal(err)
	}
	l.off = fi.Size()
}

// took returns the times of the requests answered ok since the last
// call to skip or took.
func (l *agentLog) took(b *testing.B) samples {
	raw, err := os.ReadFile(l.path)
	if err != nil {
		b.Fatal(err)
	}
	text := string(raw[min(l.off, int64(len(raw))):])
	l.off = int64(len(raw))
	var s samples
	for _, line := range strings.Split(text, "\n") {
		if !strings.Contains(line, " msg=request ") || !strings.Contains(line, " ok=true ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "took="); ok {
				d, err := time.ParseDuration(v)
				if err != nil {
					b.Fatalf("agent log line %q: %v", line, err)
				}
				s = append(s, d)
			}
		}
	}
	return s
}

// minRestores is the fewest requests each agent sub-benchmark makes
// (a quarter of it per client with twenty clients), whatever b.N, so
// that the median and the 99th percentile mean something; ns/op is
// computed from the requests made.
const minRestores = 40

// benchDir is where the restore script keeps ncat's answers, inside
// the machine.
const benchDir = home + "/.bench"

// restoreScript runs CLIENTS clients at once, each making COUNT mount
// requests for CRITERION one after another, at paths PREFIX-CLIENT-I,
// with the original setup's ncat heredoc (a here-string here); with an
// empty CRITERION, the requests are echo PREFIX-CLIENT-I instead. It
// starts at START (microseconds since the epoch, 0 for now) and prints
// one line per request: CLIENT START_US END_US ANSWER.
const restoreScript = `
clients=$1 count=$2 start=$3 prefix=$4 criterion=$5
while (( ${EPOCHREALTIME/./} < start )); do sleep 0.002; done
for ((c = 0; c < clients; c++)); do
	(
		for ((i = 0; i < count; i++)); do
			t0=$EPOCHREALTIME
			if [[ $criterion ]]; then
				request="mount $prefix-$c-$i
> $criterion"
			else
				request="echo $prefix-$c-$i"
			fi
			ncat -U ` + sockInMachine + ` >` + benchDir + `/out.$c <<<"$request"
			t1=$EPOCHREALTIME
			printf '%s %s %s %s\n' $c ${t0/./} ${t1/./} "$(<` + benchDir + `/out.$c)"
		done
	) &
done
wait
`

// restoreRuns numbers the restores, so that every mount path is new.
var restoreRuns struct {
	sync.Mutex
	n int
}

// restores runs restoreScript in every machine of ms at once, with
// clients clients per machine making count requests each for the cache
// annotated term (echo requests for ""), and returns the latencies
// seen inside the machines
// and the time from the first request's start to the last one's end.
// With several machines, they all start at one moment.
func restores(b testing.TB, ms []*machinetest.Machine, clients, count int, term string) (samples, time.Duration) {
	restoreRuns.Lock()
	restoreRuns.n++
	prefix := fmt.Sprintf("%s/r%d", home, restoreRuns.n)
	restoreRuns.Unlock()
	startAt := time.Now().Add(500 * time.Millisecond).UnixMicro()
	if len(ms) == 1 {
		startAt = 0
	}
	outs := make([]string, len(ms))
	errs := make([]error, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Go(func() {
			res, err := m.Exec(context.Background(), machinetest.Cmd{
				UID:     machinetest.Runner,
				Args:    []string{"bash", "-c", restoreScript, "restore", strconv.Itoa(clients), strconv.Itoa(count), strconv.FormatInt(startAt, 10), fmt.Sprintf("%s-%d", prefix, i), term},
				Timeout: 10 * time.Minute,
			})
			outs[i], errs[i] = string(res.Stdout), err
		})
	}
	wg.Wait()
	var s samples
	first, last := int64(-1), int64(0)
	for i, out := range outs {
		if errs[i] != nil {
			b.Fatalf("machine %s: %v", ms[i].Name(), errs[i])
		}
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			f := strings.SplitN(line, " ", 4)
			if len(f) != 4 {
				b.Fatalf("restore script printed %q", line)
			}
			t0, err0 := strconv.ParseInt(f[1], 10, 64)
			t1, err1 := strconv.ParseInt(f[2], 10, 64)
			if err0 != nil || err1 != nil {
				b.Fatalf("restore script printed %q", line)
			}
			resp, err := protocol.ReadResponse(strings.NewReader(f[3]+"\n"), 0)
			if err != nil {
				b.Fatalf("answer %q: %v", f[3], err)
			}
			if term == "" {
				if !resp.OK || len(resp.Fields) != 1 || !strings.HasPrefix(resp.Fields[0], prefix) {
					b.Fatalf("answer %q: want the echo", f[3])
				}
			} else if m, err := protocol.ParseMountResult(resp); err != nil || m.Default || protocol.CriterionText(m.Criterion) != "> "+term {
				b.Fatalf("answer %q (%v): want a copy of the cache annotated %s", f[3], err, term)
			}
			s = append(s, time.Duration(t1-t0)*time.Microsecond)
			if first < 0 || t0 < first {
				first = t0
			}
			last = max(last, t1)
		}
	}
	if len(s) != len(ms)*clients*count {
		b.Fatalf("%d answers for %d requests", len(s), len(ms)*clients*count)
	}
	return s, time.Duration(last-first) * time.Microsecond
}

// storeRestores is what the store alone does per restore, from the
// host: Create a snapshot of origin and Mount it (Unmount and Delete are
// not timed). The agent's mount adds to it the request, finding the
// machine, the idmapped mount into the machine and the bookkeeping.
func storeRestores(b *testing.B, e *env, n int, origin string) samples {
	ctx := context.Background()
	dir := b.TempDir()
	var s samples
	b.ResetTimer()
	for i := range n {
		name := fmt.Sprintf("bench-store-%d", i)
		start := time.Now()
		if _, err := e.store.Create(ctx, origin, name, "bench", nil); err != nil {
			b.Fatal(err)
		}
		if err := e.store.Mount(ctx, name, dir); err != nil {
			b.Fatal(err)
		}
		s = append(s, time.Since(start))
		b.StopTimer()
		if err := e.store.Unmount(ctx, dir); err != nil {
			b.Fatal(err)
		}
		if err := e.store.Delete(ctx, name); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	reportSamples(b, s, 0)
	return s
}

// extractions extracts the tarball n times with tar and the arguments
// given, each time into a new subvolume of the store's filesystem, and
// returns how long each tar took. The subvolume is synced and deleted
// (and btrfs's cleaner waited for) between runs, untimed.
func extractions(b *testing.B, e *env, n int, tarArgs ...string) samples {
	var s samples
	b.StopTimer()
	for i := range n {
		dst := filepath.Join(e.mnt, fmt.Sprintf("extract-%d", i))
		sh(b, "btrfs", "subvolume", "create", dst)
		sh(b, "sync")
		args := append(slices.Clone(tarArgs), "-C", dst)
		b.StartTimer()
		start := time.Now()
		out, err := exec.Command("tar", args...).CombinedOutput()
		took := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("tar %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		s = append(s, took)
		sh(b, "sync")
		sh(b, "btrfs", "subvolume", "delete", "--commit-after", dst)
		sh(b, "btrfs", "subvolume", "sync", e.mnt)
	}
	reportSamples(b, s, 0)
	return s
}

// sealedTree makes a sealed snapshot name of the default volume,
// annotated term, holding the tree spec describes, through the store
// (as if an earlier job had left it), and returns its directory.
func (e *env) sealedTree(name, term string, spec storetest.TreeSpec) (string, storetest.TreeStats) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.store.Create(ctx, "default", name, "bench", []string{term}); err != nil {
		e.t.Fatal(err)
	}
	dir := filepath.Join(e.mnt, "snaps", name)
	st, err := storetest.WriteTree(dir, spec)
	if err != nil {
		e.t.Fatal(err)
	}
	sh(e.t, "sync")
	for _, state := range []store.State{store.InUse, store.Sealed} {
		if err := e.store.SetState(ctx, name, state); err != nil {
			e.t.Fatal(err)
		}
	}
	return dir, st
}

// samples are latencies.
type samples []time.Duration

// quantile is the nearest-rank q-quantile (0 when there are none).
func (s samples) quantile(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	sorted := slices.Sorted(slices.Values(s))
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func (s samples) mean() time.Duration {
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return sum / time.Duration(max(len(s), 1))
}

// reportSamples makes the benchmark's ns/op the measured time per
// request (wall over the requests when they ran at once, else their
// mean), without the cost of getting into the machine, and adds the
// median and the 99th percentile.
func reportSamples(b *testing.B, s samples, wall time.Duration) {
	per := s.mean()
	if wall > 0 {
		per = wall / time.Duration(len(s))
	}
	b.ReportMetric(float64(per.Nanoseconds()), "ns/op")
	b.ReportMetric(float64(s.quantile(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(s.quantile(0.99).Microseconds())/1000, "p99-ms")
}

// times formats a ratio: two significant digits, whole numbers from 10.
func times(r float64) string {
	if r >= 10 {
		return strconv.FormatFloat(r, 'f', 0, 64) + "x"
	}
	return strconv.FormatFloat(r, 'g', 2, 64) + "x"
}

// ms3 formats d with three significant digits, in ms or s.
func ms3(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	if d >= time.Second {
		return strconv.FormatFloat(d.Seconds(), 'g', 3, 64) + " s"
	}
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'g', 3, 64) + " ms"
}

// procStatus reads a "kB" field of /proc/PID/status, in bytes.
func procStatus(b testing.TB, pid int, key string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("/proc/%d/status: %q", pid, line)
			}
			return kb << 10
		}
	}
	b.Fatalf("/proc/%d/status has no %s", pid, key)
	return 0
}

func fileSize(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}
