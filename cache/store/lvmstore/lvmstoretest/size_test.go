package lvmstoretest

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// syncDir flushes the filesystem mounted at dir to its device, so that
// the pool has mapped every block written.
func syncDir(t testing.TB, dir string) {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		t.Fatal(err)
	}
}

// wantSize checks that List gives snapshot name a Size of about want
// bytes: at least want less 1 MiB (lvs rounds data_percent to 0.01% of
// the 2 GiB volume) and at most an eighth more (the filesystem's own
// metadata for what was written). It returns the Size.
func wantSize(t testing.TB, s store.Store, name string, want int64) int64 {
	t.Helper()
	sn, ok := byName(t, s)[name]
	if !ok {
		t.Fatalf("snapshot %s is not listed", name)
	}
	if sn.Size < want-1<<20 || sn.Size > want+want/8+1<<20 {
		t.Errorf("snapshot %s (%s) has Size %d bytes (%.1f MiB), want about %d MiB: what its job wrote to new regions",
			name, sn.State, sn.Size, float64(sn.Size)/(1<<20), want>>20)
	}
	t.Logf("snapshot %s (%s): Size %.2f MiB", name, sn.State, float64(sn.Size)/(1<<20))
	return sn.Size
}

// writeNew writes n bytes of new files into directory sub of dir (not
// over files an origin has: xfs could put them in blocks the origin
// maps) and syncs them.
func writeNew(t testing.TB, dir, sub string, n int64) {
	t.Helper()
	if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, filepath.Join(dir, sub), n)
	syncDir(t, dir)
}

// mountNew makes a snapshot of origin in use, as the agent does for a
// job, mounts it and writes n bytes of new files into it, synced.
func mountNew(t testing.TB, s store.Store, origin, name string, n int64) string {
	t.Helper()
	if _, err := s.Create(bg, origin, name, "m", []string{"linux"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(bg, name, store.InUse); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := s.Mount(bg, name, dir); err != nil {
		t.Fatal(err)
	}
	writeNew(t, dir, name, n)
	return dir
}

// A snapshot's Size is what its job wrote to new regions, beyond what
// its origin maps: while it is in use (active), once it is sealed
// (inactive, where lvs reports no data use) and listed by a store that
// never saw it active (the agent after a restart), and for a snapshot of
// a sealed one. Space retention subtracts the Size of the snapshots in
// use from the pool's use before it deletes sealed caches; a Size of 0
// makes it delete them for space only the job can give back.
func TestSize(t *testing.T) {
	e := setup(t, "xfs", "1G", 0)
	s := e.store
	dir := mountNew(t, s, "default", "job", 64<<20)
	inUse := wantSize(t, s, "job", 64<<20)
	if err := s.Unmount(bg, dir); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(bg, "job", store.Sealed); err != nil {
		t.Fatal(err)
	}
	if attr := lvs(t)["job"].Attr; attr[4] == 'a' {
		t.Fatalf("the sealed snapshot is active (lv_attr %s), want it inactive", attr)
	}
	restarted := e.newStore(sysexec.Host{})
	if sealed := wantSize(t, restarted, "job", 64<<20); sealed < inUse-1<<20 || sealed > inUse+1<<20 {
		t.Errorf("sealed, the snapshot has Size %d bytes, in use it had %d", sealed, inUse)
	}

	// A later job's snapshot of the sealed one.
	dir = mountNew(t, restarted, "job", "next", 16<<20)
	wantSize(t, restarted, "next", 16<<20)
	wantSize(t, restarted, "job", 64<<20)

	// Its origin deleted (by retention, say), the job's snapshot still
	// holds what it wrote.
	if err := restarted.Delete(bg, "job"); err != nil {
		t.Fatal(err)
	}
	if o := lvs(t)["next"].Origin; o != "" {
		t.Fatalf("LVM still names origin %q of a snapshot whose origin was removed", o)
	}
	wantSize(t, e.newStore(sysexec.Host{}), "next", 16<<20)
	if err := restarted.Unmount(bg, dir); err != nil {
		t.Fatal(err)
	}
}

// A save's copy maps what the job's snapshot mapped at the save: nothing
// beyond its origin, and a later job's snapshot of the copy has the Size
// of what that job wrote, also once the job that saved is gone.
func TestSizeOfASave(t *testing.T) {
	e := setup(t, "xfs", "1G", 0)
	s := e.store
	dir := mountNew(t, s, "default", "job", 32<<20)
	if _, err := s.Copy(bg, "job", dir, "saved", "m", []string{"linux"}); err != nil {
		t.Fatal(err)
	}
	writeNew(t, dir, "after", 8<<20) // after the save: the job's, not the copy's
	wantSize(t, s, "saved", 0)
	if err := s.Unmount(bg, dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(bg, "job"); err != nil { // commit on save: the job's own snapshot is discarded
		t.Fatal(err)
	}
	restarted := e.newStore(sysexec.Host{})
	dir = mountNew(t, restarted, "saved", "next", 16<<20)
	wantSize(t, restarted, "next", 16<<20)
	if err := restarted.Unmount(bg, dir); err != nil {
		t.Fatal(err)
	}
}
