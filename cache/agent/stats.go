package agent

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/store"
)

// counters are the agent's running totals. Guarded by Agent.mu.
type counters struct {
	served, failed uint64 // requests answered ok / with an error
	finished       uint64 // snapshots sealed or discarded after their machine exited
	gcDeleted      uint64 // snapshots retention deleted
	refusedFull    uint64 // creates refused because the store was full
	refusedBusy    uint64 // requests refused by a per-peer limit
}

// count records the outcome of a request.
func (a *Agent) count(resp *protocol.Response) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if resp.OK {
		a.stats.served++
	} else {
		a.stats.failed++
	}
}

// statsResponse serves `stats`: the agent's figures for the host's
// operator; for a machine, its own and the store's use (which decides
// whether it gets a cache), nothing of other machines.
func (a *Agent) statsResponse(ctx context.Context, c *call) *protocol.Response {
	usage, uerr := a.store.Usage(ctx)
	if uerr != nil {
		c.log.Warn("stats: reading the store's usage failed", "err", uerr)
	}
	pct := func(v float64) string {
		if uerr != nil {
			return "unknown"
		}
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	if m := c.who.machine; m != nil {
		return a.machineStats(m.Name, pct(usage.DataPercent), pct(usage.MetadataPercent))
	}
	a.mu.Lock()
	st := a.stats
	states := a.countStates()
	machines := len(a.machines)
	def := a.def
	a.mu.Unlock()
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int) string { return strconv.Itoa(v) }
	rss := "unknown"
	if n, err := residentBytes(); err == nil {
		rss = strconv.FormatInt(n, 10)
	}
	resp := protocol.OK()
	for _, s := range []protocol.Stat{
		{Key: "requests.served", Value: u(st.served)},
		{Key: "requests.failed", Value: u(st.failed)},
		{Key: "snapshots.sealed", Value: i(states.sealed)},
		{Key: "snapshots.in_use", Value: i(states.inUse)},
		{Key: "snapshots.pending", Value: i(states.pending)},
		{Key: "snapshots.finished", Value: u(st.finished)},
		{Key: "machines.watched", Value: i(machines)},
		{Key: "store.default", Value: def},
		{Key: "store.data_percent", Value: pct(usage.DataPercent)},
		{Key: "store.metadata_percent", Value: pct(usage.MetadataPercent)},
		{Key: "retention.deleted", Value: u(st.gcDeleted)},
		{Key: "retention.refused_full", Value: u(st.refusedFull)},
		{Key: "requests.refused_limit", Value: u(st.refusedBusy)},
		{Key: "agent.rss_bytes", Value: rss},
		{Key: "agent.goroutines", Value: i(runtime.NumGoroutine())},
		{Key: "agent.uptime_seconds", Value: strconv.FormatInt(int64(a.now().Sub(a.started)/time.Second), 10)},
		{Key: "agent.commit", Value: string(a.cfg.Commit)},
	} {
		resp.Records = append(resp.Records, s.Record())
	}
	return resp
}

// machineStats are the figures a machine may see: its own snapshots,
// its limits, and how full the store is.
func (a *Agent) machineStats(name, dataPct, metaPct string) *protocol.Response {
	var inUse, sealed int
	a.mu.Lock()
	for _, e := range a.snaps {
		if e.snap.Machine != name {
			continue
		}
		switch {
		case e.inUse():
			inUse++
		case e.snap.State == store.Sealed:
			sealed++
		}
	}
	a.mu.Unlock()
	resp := protocol.OK()
	for _, s := range []protocol.Stat{
		{Key: "machine.name", Value: name},
		{Key: "snapshots.in_use", Value: strconv.Itoa(inUse)},
		{Key: "snapshots.sealed", Value: strconv.Itoa(sealed)},
		{Key: "limits.in_use_per_machine", Value: strconv.Itoa(a.cfg.MaxInUsePerMachine)},
		{Key: "limits.annotation_bytes", Value: strconv.Itoa(a.cfg.MaxAnnotationBytes)},
		{Key: "store.data_percent", Value: dataPct},
		{Key: "store.metadata_percent", Value: metaPct},
		{Key: "agent.commit", Value: string(a.cfg.Commit)},
	} {
		resp.Records = append(resp.Records, s.Record())
	}
	return resp
}

// residentBytes reads the agent's resident set size from
// /proc/self/statm (its second field, in pages).
func residentBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc/self/statm: %q", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/self/statm: %w", err)
	}
	return pages * int64(os.Getpagesize()), nil
}

// list serves `ls`, oldest first: every snapshot for the host's
// operator; for a machine, the snapshots it made or has in use, and no
// other machine's. The answer is streamed: what is copied under the
// lock is each snapshot's fields (its annotations shared, not copied),
// never the encoded answer.
func (a *Agent) list(c *call) *protocol.Response {
	a.mu.Lock()
	entries := a.sorted()
	snaps := make([]protocol.Snapshot, 0, len(entries))
	for _, e := range entries {
		if c.who.machine != nil && e.snap.Machine != c.who.machine.Name {
			continue
		}
		snaps = append(snaps, protocol.Snapshot{
			Name: e.snap.Name, Created: e.snap.Created, Origin: e.snap.Origin,
			Sealed: e.snap.State == store.Sealed, InUse: e.snap.State == store.InUse,
			Annotations: e.snap.Annotations, Machine: e.snap.Machine,
		})
	}
	a.mu.Unlock()
	resp := protocol.OK()
	resp.Stream = func(yield func(protocol.Record) bool) {
		for _, s := range snaps {
			rec, err := s.Record()
			if err != nil {
				c.log.Error("ls: a snapshot cannot be listed", "snapshot", s.Name, "err", err)
				continue
			}
			if !yield(rec) {
				return
			}
		}
	}
	return resp
}
