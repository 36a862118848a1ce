package lvmstoretest

import (
	"testing"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// Every operation costs a fixed number of LVM commands, whatever the
// number of snapshots and whatever the origin holds: the restore path
// (Create, Mount, SetState) is one lvcreate and one lvchange; sealing and
// saving read what the snapshot maps with one lvs each.
func TestCommandCounts(t *testing.T) {
	e := setup(t, "xfs", "4G", 64<<20) // an origin with 64 MiB of files
	c := &sysexec.Counter{Runner: sysexec.Host{}}
	s := e.newStore(c)
	dir, dir2 := t.TempDir(), t.TempDir()
	steps := []struct {
		name string
		op   func() error
		want int
	}{
		{"List with no snapshots", func() error { _, err := s.List(bg); return err }, 1},
		{"Create from the default volume", func() error {
			_, err := s.Create(bg, "default", "a", "m", []string{"linux", "main"})
			return err
		}, 1},
		{"Mount (active since Create)", func() error { return s.Mount(bg, "a", dir) }, 0},
		{"SetState in-use", func() error { return s.SetState(bg, "a", store.InUse) }, 1},
		{"Copy (save: reads what a maps, for the copy's tag)", func() error { _, err := s.Copy(bg, "a", dir, "b", "m", []string{"linux"}); return err }, 2},
		{"Create from a sealed snapshot", func() error { _, err := s.Create(bg, "b", "c", "m", nil); return err }, 1},
		{"Unmount", func() error { return s.Unmount(bg, dir) }, 0},
		{"SetState sealed (reads what it maps, deactivates, then tags)", func() error { return s.SetState(bg, "a", store.Sealed) }, 3},
		{"List with three snapshots", func() error { _, err := s.List(bg); return err }, 1},
		{"Usage", func() error { _, err := s.Usage(bg); return err }, 1},
		{"Mount an inactive snapshot (activates it)", func() error { return s.Mount(bg, "b", dir2) }, 1},
		{"Unmount it", func() error { return s.Unmount(bg, dir2) }, 0},
		{"Delete an active snapshot", func() error { return s.Delete(bg, "c") }, 3},
		{"Delete an inactive (sealed) snapshot", func() error { return s.Delete(bg, "a") }, 2},
	}
	for _, st := range steps {
		before := c.Count()
		if err := st.op(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := c.Count() - before; got != st.want {
			t.Errorf("%s ran %d commands, want %d", st.name, got, st.want)
		}
	}
	snaps := byName(t, s)
	if len(snaps) != 2 || snaps["b"].State != store.Sealed {
		t.Errorf("after the steps List has %v, want default and the sealed b", snaps)
	}
}
