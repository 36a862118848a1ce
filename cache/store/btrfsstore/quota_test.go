package btrfsstore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
)

const mib = 1 << 20

// jobWrites writes n MiB into file in the job's mounted cache, as the
// job, and returns dd's error.
func jobWrites(t *testing.T, dir, file string, n int) error {
	t.Helper()
	_, err := asJob(t, "dd", "if=/dev/zero", "of="+filepath.Join(dir, file), "bs=1M", fmt.Sprintf("count=%d", n), "conv=fsync", "status=none")
	return err
}

// With btrfs quotas on, List reports how much of the filesystem each
// snapshot holds alone: what its job wrote, not what it shares with its
// origin. The counters move when btrfs commits a transaction. With
// quotas off, it reports 0: not known.
func TestSizeIsTheSnapshotsExclusiveBytes(t *testing.T) {
	s, mnt := newStore(t, 1<<30)
	// Something every snapshot shares: 16 MiB in the default subvolume.
	if err := os.WriteFile(filepath.Join(s.defPath, "shared"), make([]byte, 16*mib), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"job", "idle"} {
		if _, err := s.Create(bg, "default", n, "m", nil); err != nil {
			t.Fatal(err)
		}
	}
	dir := jobMount(t, s, "job")
	if err := jobWrites(t, dir, "blob", 8); err != nil {
		t.Fatal(err)
	}
	unix.Sync()
	for n, sn := range listed(t, s) {
		if sn.Size != 0 {
			t.Errorf("with quotas off, List reports %s's size as %d, want 0 (unknown)", n, sn.Size)
		}
	}

	sh(t, "btrfs", "quota", "enable", mnt)
	sh(t, "btrfs", "quota", "rescan", "-w", mnt)
	snaps := listed(t, s)
	t.Logf("sizes: job %d idle %d default %d", snaps["job"].Size, snaps["idle"].Size, snaps["default"].Size)
	if got := snaps["job"].Size; got < 8*mib || got > 9*mib {
		t.Errorf("List reports the snapshot that wrote 8 MiB as %d bytes, want about 8 MiB", got)
	}
	if got := snaps["idle"].Size; got <= 0 || got > mib {
		t.Errorf("List reports a snapshot that wrote nothing as %d bytes, want a few metadata blocks", got)
	}

	if err := jobWrites(t, dir, "more", 8); err != nil {
		t.Fatal(err)
	}
	if err := s.Unmount(bg, dir); err != nil {
		t.Fatal(err)
	}
	unix.Sync()
	if got := listed(t, s)["job"].Size; got < 16*mib || got > 17*mib {
		t.Errorf("after 8 MiB more and a sync, List reports %d bytes, want about 16 MiB", got)
	}
}

// With Quota set, New turns btrfs quotas on and each new writable
// snapshot may hold no more than Quota bytes of its own: a job that
// writes more gets EDQUOT, and the filesystem is nowhere near full. A
// snapshot made from a sealed one is bounded the same.
func TestQuotaBoundsEachJob(t *testing.T) {
	const quota = 32 * mib
	s, _ := newStoreWith(t, 512*mib, Config{Quota: quota})
	if _, err := s.Create(bg, "default", "job", "m", nil); err != nil {
		t.Fatal(err)
	}
	dir := jobMount(t, s, "job")
	err := jobWrites(t, dir, "flood", 1024)
	if err == nil || !strings.Contains(err.Error(), "Disk quota exceeded") {
		t.Errorf("a job wrote 1 GiB on a 512 MiB filesystem with a %d MiB quota: %v, want EDQUOT", quota/mib, err)
	}
	unix.Sync()
	u, uerr := s.Usage(bg)
	if uerr != nil {
		t.Fatal(uerr)
	}
	if u.DataPercent > 50 {
		t.Errorf("after the job hit its quota, the filesystem is %.1f%% used", u.DataPercent)
	}
	if st, err := os.Stat(filepath.Join(dir, "flood")); err != nil || st.Size() > quota {
		t.Errorf("the job's file: %v, size %d; want at most the quota, %d", err, st.Size(), quota)
	}
	if got := listed(t, s)["job"].Size; got > quota+mib {
		t.Errorf("List reports %d bytes for the job that hit a %d-byte quota", got, quota)
	}

	if _, err := s.Copy(bg, "job", dir, "saved", "m", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(bg, "saved", "next", "m", nil); err != nil {
		t.Fatal(err)
	}
	next := jobMount(t, s, "next")
	if err := jobWrites(t, next, "flood2", 1024); err == nil || !strings.Contains(err.Error(), "Disk quota exceeded") {
		t.Errorf("the job of a snapshot of a sealed copy wrote 1 GiB past its quota: %v, want EDQUOT", err)
	}
	if got, ok := listed(t, s)["saved"]; !ok || got.State != store.Sealed {
		t.Errorf("the copy is listed %+v", got)
	}
}

// btrfs copies a subvolume's limits onto its snapshots. A store whose
// Quota was lifted (the agent restarted with none) lifts the limit a new
// snapshot copied from an origin made under the old one.
func TestNoQuotaLiftsACopiedLimit(t *testing.T) {
	const quota = 16 * mib
	s, _ := newStoreWith(t, 512*mib, Config{Quota: quota})
	if _, err := s.Create(bg, "default", "job", "m", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(bg, "job", store.Sealed); err != nil {
		t.Fatal(err)
	}
	unbounded, err := New(Config{Dir: s.dir, Default: s.defPath})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unbounded.Create(bg, "job", "next", "m", nil); err != nil {
		t.Fatal(err)
	}
	dir := jobMount(t, unbounded, "next")
	if err := jobWrites(t, dir, "big", 2*quota/mib); err != nil {
		t.Errorf("a job of a store without a quota could not write twice the old quota: %v", err)
	}
}

// A job that creates subvolumes inside its cache (podman's btrfs storage
// driver does) writes into qgroups of their own. List counts them in the
// snapshot's Size, at any depth, so that retention sees what the job
// holds: here 8 MiB in a nested subvolume and 4 MiB in one nested in
// that, below a plain directory.
func TestSizeCountsNestedSubvolumes(t *testing.T) {
	s, mnt := newStore(t, 1<<30)
	sh(t, "btrfs", "quota", "enable", mnt)
	sh(t, "btrfs", "quota", "rescan", "-w", mnt)
	for _, n := range []string{"job", "idle"} {
		if _, err := s.Create(bg, "default", n, "m", nil); err != nil {
			t.Fatal(err)
		}
	}
	dir := jobMount(t, s, "job")
	job(t, "btrfs", "subvolume", "create", filepath.Join(dir, "a"))
	job(t, "mkdir", "-p", filepath.Join(dir, "a", "deep"))
	job(t, "btrfs", "subvolume", "create", filepath.Join(dir, "a", "deep", "b"))
	if err := jobWrites(t, dir, "a/blob", 8); err != nil {
		t.Fatal(err)
	}
	if err := jobWrites(t, dir, "a/deep/b/blob", 4); err != nil {
		t.Fatal(err)
	}
	if err := s.Unmount(bg, dir); err != nil {
		t.Fatal(err)
	}
	unix.Sync()
	snaps := listed(t, s)
	t.Logf("sizes: job %d idle %d default %d", snaps["job"].Size, snaps["idle"].Size, snaps["default"].Size)
	if got := snaps["job"].Size; got < 12*mib || got > 13*mib {
		t.Errorf("List reports the snapshot whose job wrote 8 MiB and 4 MiB into subvolumes nested in it as %d bytes, want about 12 MiB", got)
	}
	if got := snaps["idle"].Size; got <= 0 || got > mib {
		t.Errorf("List reports a snapshot that wrote nothing as %d bytes, want a few metadata blocks", got)
	}
}
