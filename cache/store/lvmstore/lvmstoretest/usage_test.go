package lvmstoretest

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Usage reads the pool's figures as lvs prints them, and they move when a
// snapshot is written to.
func TestUsageMatchesLvs(t *testing.T) {
	e := setup(t, "xfs", "1G", 0)
	s := e.store
	check := func() float64 {
		t.Helper()
		u, err := s.Usage(bg)
		if err != nil {
			t.Fatal(err)
		}
		pool := lvs(t)["pool"]
		data, err1 := strconv.ParseFloat(pool.Data, 64)
		meta, err2 := strconv.ParseFloat(pool.Meta, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("lvs printed pool %+v", pool)
		}
		if u.DataPercent != data || u.MetadataPercent != meta || u.DataBytes != 1<<30 {
			t.Errorf("Usage = %+v, lvs says data %v%%, metadata %v%% of a 1 GiB pool", u, data, meta)
		}
		return u.DataPercent
	}
	before := check()
	if _, err := s.Create(bg, "default", "big", "m", nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := s.Mount(bg, "big", dir); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, 200<<20)
	f, err := os.Open(filepath.Join(dir, "fill-0000"))
	if err != nil {
		t.Fatal(err)
	}
	f.Sync()
	f.Close()
	sh(t, "sync")
	if err := s.Unmount(bg, dir); err != nil {
		t.Fatal(err)
	}
	if after := check(); after < before+15 {
		t.Errorf("pool data went from %.2f%% to %.2f%% after writing 200 MiB to a 1 GiB pool", before, after)
	}
}
