package lvmstoretest

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/cache/store/storetest"
)

// poolStore is how a FullError must name the test's pool.
const poolStore = "thin pool vg0/pool"

// A job fills the thin pool's data through its snapshot (256 MiB of pool
// under a 2 GiB volume, error_when_full as the project's examples set
// it): Create and Copy are refused with a FullError naming the pool at
// 100% data, the job's snapshot is still sealed, listed and deleted, and
// then the pool takes new snapshots and writes again. Describe names the
// pool as the FullError does.
func TestFullData(t *testing.T) {
	e := setup(t, "xfs", "256M", 0)
	sh(t, "lvchange", "-q", "--errorwhenfull", "y", vg+"/pool")
	storetest.RunFull(t, storetest.FullEnv{
		Store: e.store, Default: "default", MaxFill: 2 << 30, RefusesNew: true,
		CheckFull: func(t *testing.T, op string, fe *store.FullError) {
			if fe.Store != poolStore || fe.Usage.DataPercent != 100 {
				t.Errorf("%s: FullError names %q at %s, want %s at 100%% data", op, fe.Store, fe.Usage, poolStore)
			}
			// The agent's own refusal of a full store (its watermarks)
			// names the store by Describe: the same pool, the same words.
			if d := e.store.Describe(); d != fe.Store {
				t.Errorf("%s: FullError names %q, Describe %q: one pool, two names", op, fe.Store, d)
			}
		},
	})
	if got := lvNames(t); !slices.Equal(got, []string{"default", "pool"}) {
		t.Errorf("after the full store was emptied LVM has %v, want only default and pool", got)
	}
}

// metaFull writes into the snapshots until the pool's metadata is
// exhausted and dm-thin switches the pool to read-only metadata. Each
// snapshot shares the origin's mapping tree; one 4 KiB write per tree
// leaf (every 4 MiB of a sequentially written origin) makes the snapshot
// a copy of every leaf, which costs metadata blocks and almost no data.
// A job writing into its filesystem spends metadata the same way, only
// more slowly. The writes go to the raw devices: the test does not mount
// these snapshots.
//
// With burst false each write is synced, so dm-thin commits after each
// and sees its metadata run low at a commit: it switches to read-only
// while its reserve is left, and growing the metadata heals the pool.
// With burst true a whole snapshot's writes are synced at once: one
// transaction allocates past the reserve and fails, and dm-thin also
// flags the metadata for a check, which only a repair clears.
func metaFull(t *testing.T, snaps []string, span int64, burst bool) {
	t.Helper()
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(i*13 + 5)
	}
	for _, name := range snaps {
		f, err := os.OpenFile("/dev/"+vg+"/"+name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		for off := int64(0); off < span; off += 4 << 20 {
			_, err := f.WriteAt(buf, off)
			if err == nil && !burst {
				err = f.Sync()
			}
			if err != nil {
				break // the metadata is exhausted
			}
		}
		f.Sync()
		f.Close()
		if pool := lvs(t)["pool"]; pool.Attr[8] == 'M' {
			t.Logf("pool metadata read-only after writes to %s: lv_attr %s, metadata %s%%", name, pool.Attr, pool.Meta)
			return
		}
	}
	t.Fatalf("writing into %d snapshots did not exhaust the pool's metadata: %+v", len(snaps), lvs(t)["pool"])
}

// A pool whose metadata is exhausted (dm-thin makes it read-only) takes
// no new snapshot, and LVM cannot remove one either: its lvremove drops
// the LV from the volume group and then fails to tell the pool, so a
// retention run that kept deleting would empty the cache and free
// nothing. The store refuses both with a FullError and changes nothing;
// sealing still works. Once the operator extends the metadata, Delete
// and Create work again.
func TestFullMetadata(t *testing.T) {
	// 1 MiB extents, so the pool gets LVM's smallest metadata (2 MiB);
	// an origin of 768 MiB written in order spans about 50 mapping leaves.
	e := setupPool(t, "xfs", 768<<20, []string{"--physicalextentsize", "1M"},
		"--size", "2G", "--poolmetadatasize", "2M")
	sh(t, "lvchange", "-q", "--errorwhenfull", "y", vg+"/pool")
	s := e.store
	if _, err := s.Create(bg, "default", "job", "m", []string{"linux"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(bg, "job", store.InUse); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := s.Mount(bg, "job", dir); err != nil {
		t.Fatal(err)
	}
	var fillers []string
	for i := range 24 {
		n := fmt.Sprintf("filler-%02d", i)
		if _, err := s.Create(bg, "default", n, "m", nil); err != nil {
			t.Fatalf("Create(%s) while filling the metadata: %v", n, err)
		}
		fillers = append(fillers, n)
	}
	metaFull(t, fillers, 2<<30, false) // the whole volume: xfs spreads files over its allocation groups
	before := lvNames(t)

	wantFull := func(op string, err error) {
		t.Helper()
		var fe *store.FullError
		if !errors.As(err, &fe) || !errors.Is(err, store.ErrFull) {
			t.Errorf("%s with the pool's metadata exhausted: %v, want a FullError", op, err)
			return
		}
		// Read-only with dm-thin's reserve left: lvs says 99.4%.
		if fe.Store != poolStore || fe.Usage == nil || fe.Usage.MetadataPercent < 90 {
			t.Errorf("%s: FullError names %q at %v, want %s at over 90%% metadata", op, fe.Store, fe.Usage, poolStore)
		}
		t.Logf("%s (refused as expected): %v", op, err)
	}
	_, err := s.Create(bg, "default", "new", "m", nil)
	wantFull("Create", err)
	_, err = s.Copy(bg, "job", dir, "saved", "m", nil)
	wantFull("Copy", err)
	if err := s.Unmount(bg, dir); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(bg, "job", store.Sealed); err != nil {
		t.Errorf("sealing with the pool's metadata exhausted: %v", err)
	}
	wantFull("Delete", s.Delete(bg, "job"))
	if got := lvNames(t); !slices.Equal(got, before) {
		t.Errorf("the refused calls changed the volume group: LVM had %v, now %v", before, got)
	}
	if st := byName(t, s)["job"].State; st != store.Sealed {
		t.Errorf("the sealed snapshot whose Delete was refused is listed %q, want sealed", st)
	}

	// The operator's fix: more metadata space.
	sh(t, "lvextend", "-q", "--poolmetadatasize", "+8M", vg+"/pool")
	if err := s.Delete(bg, "job"); err != nil {
		t.Fatalf("Delete once the metadata was extended: %v", err)
	}
	if _, err := s.Create(bg, "default", "new", "m", nil); err != nil {
		t.Fatalf("Create once the metadata was extended: %v", err)
	}
	if u, err := s.Usage(bg); err != nil || u.MetadataPercent >= 100 {
		t.Errorf("Usage once the metadata was extended: %v, %v", u, err)
	}
}
