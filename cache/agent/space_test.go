package agent_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/retention"
	"github.com/rigplan/rigplan/cache/store"
)

// btrfs gives a deleted subvolume's space back in the background, up to
// a commit interval (30 seconds) later. With sizes unknown (quotas off),
// space retention deletes one sealed cache at a time and reads the use
// again: it must wait for the space to come back, or it finds the store
// as full as before and deletes every cache. Four sealed caches of
// 64 MiB each fill the store over its high watermark, so that deleting
// the oldest two brings it under the low one: gc deletes exactly those
// two, and the newer two survive with their content.
func TestSpaceRetentionWaitsForBtrfsToFree(t *testing.T) {
	const cacheBytes = 64 << 20
	e := newEnvSize(t, 1, 1<<30)
	ctx := context.Background()
	caches := []string{"cache-1", "cache-2", "cache-3", "cache-4"} // oldest first
	for _, name := range caches {
		if _, err := e.store.Create(ctx, "default", name, e.declared[0], []string{name}); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(e.mnt, "snaps", name, "blob"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(make([]byte, cacheBytes)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if err := e.store.SetState(ctx, name, store.Sealed); err != nil {
			t.Fatal(err)
		}
	}
	unix.Sync()
	u, err := e.store.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// One cache's share of the store, in percent: the watermarks lie
	// half a cache above what two deletions leave, and half a cache
	// below the use now.
	share := float64(cacheBytes) / float64(u.DataBytes) * 100
	round := func(pct float64) float64 { return math.Round(pct*10) / 10 }
	p := retention.Policy{DataHigh: round(u.DataPercent - share/2), DataLow: round(u.DataPercent - 1.5*share)}
	t.Logf("store %.1f%% used, a cache is %.1f%%: watermarks %.1f%%/%.1f%%", u.DataPercent, share, p.DataHigh, p.DataLow)
	e.serve(e.config(func(c *agent.Config) { c.Retention = p }), depsNone())

	res, err := protocol.ParseGCResult(e.ask(&protocol.Request{Command: protocol.CommandGC}))
	if err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, d := range res.Deleted {
		deleted = append(deleted, d.Name)
	}
	if want := caches[:2]; !slices.Equal(deleted, want) {
		t.Errorf("gc deleted %q, want only the oldest two, %q, which bring the store under its low watermark", deleted, want)
	}
	if left, want := names(e.snapshots()), caches[2:]; !slices.Equal(left, want) {
		t.Errorf("after gc the store holds %q, want %q", left, want)
	}
	for _, name := range caches[2:] {
		st, err := os.Stat(filepath.Join(e.mnt, "snaps", name, "blob"))
		if err != nil || st.Size() != cacheBytes {
			t.Errorf("the surviving cache %s lost its content: %v", name, err)
		}
	}
	if u, err = e.store.Usage(ctx); err != nil {
		t.Fatal(err)
	}
	if p.OverLow(u) {
		t.Errorf("after gc the store is %.1f%% used, over the low watermark %.1f%%", u.DataPercent, p.DataLow)
	}
}
