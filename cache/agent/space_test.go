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
// a commit interval (30 seconds) later. Retention that reads the store's
// use right after a deletion finds it as full as before and deletes
// more. The tests here fill a store of 1 GiB with four sealed caches of
// 64 MiB each (written straight into the snapshots, all with the
// annotation "main"), oldest first.

const cacheBytes = 64 << 20

var caches = []string{"cache-1", "cache-2", "cache-3", "cache-4"} // oldest first

// fillCaches makes the sealed caches and returns watermarks that the
// store's use is over (the high one by half a cache), and that deleting
// the oldest two brings it under (the low one, one and a half caches
// under the use).
func fillCaches(t *testing.T, e *env) retention.Policy {
	t.Helper()
	ctx := context.Background()
	for _, name := range caches {
		if _, err := e.store.Create(ctx, "default", name, e.declared[0], []string{"main"}); err != nil {
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
	share := float64(cacheBytes) / float64(u.DataBytes) * 100 // one cache, in percent
	round := func(pct float64) float64 { return math.Round(pct*10) / 10 }
	p := retention.Policy{DataHigh: round(u.DataPercent - share/2), DataLow: round(u.DataPercent - 1.5*share)}
	t.Logf("store %.1f%% used, a cache is %.1f%%: watermarks %g%%/%g%%", u.DataPercent, share, p.DataHigh, p.DataLow)
	return p
}

// gcDeletes runs gc and checks that it deleted exactly the oldest two
// caches, that the newer two survive with their content, and that the
// store is under its low watermark afterwards.
func gcDeletes(t *testing.T, e *env, p retention.Policy) {
	t.Helper()
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
	u, err := e.store.Usage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.OverLow(u) {
		t.Errorf("after gc the store is %.1f%% used, over the low watermark %g%%", u.DataPercent, p.DataLow)
	}
}

// With sizes unknown (quotas off), space retention deletes one sealed
// cache at a time and reads the use again: it must wait for btrfs to
// free what it deleted, or it deletes every cache.
func TestSpaceRetentionWaitsForBtrfsToFree(t *testing.T) {
	e := newEnvSize(t, 1, 1<<30)
	p := fillCaches(t, e)
	e.serve(e.config(func(c *agent.Config) { c.Retention = p }), depsNone())
	gcDeletes(t, e, p)
}

// The newest two per annotation set are kept: retention's first rule
// deletes the oldest two, which brings the store under both watermarks.
// Space retention, which looks at the use next, must see that, not the
// use of before.
func TestSpaceRetentionWaitsForWhatKeepPerSetFreed(t *testing.T) {
	e := newEnvSize(t, 1, 1<<30)
	p := fillCaches(t, e)
	p.KeepPerSet = 2
	e.serve(e.config(func(c *agent.Config) { c.Retention = p }), depsNone())
	gcDeletes(t, e, p)
}
