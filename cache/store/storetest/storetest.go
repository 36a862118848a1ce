// Package storetest checks that an implementation of store.Store keeps the
// interface's promises, against the real backing store: each store's
// tests (lvmstore in the test kernel, btrfsstore on a loop device) build
// an Env and call Run, so both stores are held to the same behaviour.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
)

// DefaultFile is the file every Env's default volume holds, with
// DefaultContent.
const (
	DefaultFile    = "from-default.txt"
	DefaultContent = "written into the default volume before the test\n"
)

// Env is a store under test.
type Env struct {
	Store store.Store
	// Default is the default volume's name as List reports it. It holds
	// DefaultFile and no snapshot exists yet.
	Default string
}

// LongTerm is a 300-character hash, longer than an LVM tag can carry.
var LongTerm = strings.Repeat("0123456789abcdef", 19)[:300]

// Terms are annotation terms any store must keep whole: branch names with
// "/", unicode, and bytes outside LVM's tag alphabet.
var Terms = []string{
	"linux", "refs/heads/feature/login-ü", "日本語ブランチ", "C#", "a&b", "x=y:z",
	"semi;colon", `quote"s`, "emoji-🚀", "50%", "(paren)", "UPPER.lower_+-",
}

// Run runs the checks as subtests, sharing e's store; they create
// snapshots whose names start with "st-". Every mount is undone before
// Run returns.
func Run(t *testing.T, e Env) {
	s := &suite{Env: e}
	t.Run("ListDefault", s.listDefault)
	t.Run("CreateRoundTrip", s.createRoundTrip)
	t.Run("States", s.states)
	t.Run("MountSeesOriginAndIsPrivate", s.mountPrivate)
	t.Run("MountCarriesNoPrivilege", s.noPrivilege)
	t.Run("CreateFromSealed", s.createFromSealed)
	t.Run("CopySavesMountedData", s.copySaves)
	t.Run("Errors", s.errors)
	t.Run("Concurrent", s.concurrent)
	t.Run("Delete", s.delete)
	t.Run("Usage", s.usage)
}

type suite struct {
	Env
}

func ctx() context.Context { return context.Background() }

// find returns the listed snapshot called name.
func find(t *testing.T, snaps []store.Snapshot, name string) store.Snapshot {
	t.Helper()
	for _, sn := range snaps {
		if sn.Name == name {
			return sn
		}
	}
	t.Fatalf("List has no snapshot %q; it has %v", name, names(snaps))
	return store.Snapshot{}
}

func names(snaps []store.Snapshot) []string {
	var out []string
	for _, sn := range snaps {
		out = append(out, sn.Name)
	}
	return out
}

func (s *suite) list(t *testing.T) []store.Snapshot {
	t.Helper()
	snaps, err := s.Store.List(ctx())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return snaps
}

func (s *suite) create(t *testing.T, origin, name string, annotations ...string) store.Snapshot {
	t.Helper()
	sn, err := s.Store.Create(ctx(), origin, name, "machine-"+name, annotations)
	if err != nil {
		t.Fatalf("Create(%s from %s): %v", name, origin, err)
	}
	return sn
}

func (s *suite) setState(t *testing.T, name string, st store.State) {
	t.Helper()
	if err := s.Store.SetState(ctx(), name, st); err != nil {
		t.Fatalf("SetState(%s, %s): %v", name, st, err)
	}
}

// mount mounts the snapshot on a new directory, unmounted when the test
// ends unless the test did it.
func (s *suite) mount(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	if err := s.Store.Mount(ctx(), name, dir); err != nil {
		t.Fatalf("Mount(%s): %v", name, err)
	}
	t.Cleanup(func() {
		if err := s.Store.Unmount(ctx(), dir); err != nil && !errors.Is(err, unix.EINVAL) {
			t.Errorf("Unmount(%s): %v", dir, err)
		}
	})
	return dir
}

func (s *suite) unmount(t *testing.T, dir string) {
	t.Helper()
	if err := s.Store.Unmount(ctx(), dir); err != nil {
		t.Fatalf("Unmount(%s): %v", dir, err)
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("read %s from the mounted snapshot: %v", name, err)
	}
	return string(b)
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatalf("write %s into the mounted snapshot: %v", name, err)
	}
}

func absent(t *testing.T, dir, name string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s in %s: stat says %v, want it absent", name, dir, err)
	}
}

func (s *suite) listDefault(t *testing.T) {
	snaps := s.list(t)
	d := find(t, snaps, s.Default)
	if !d.Default || d.State != store.Sealed {
		t.Errorf("default volume listed as %+v, want Default and Sealed", d)
	}
	for _, sn := range snaps {
		if sn.Default && sn.Name != s.Default {
			t.Errorf("%s is listed as a default volume too", sn.Name)
		}
	}
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func (s *suite) createRoundTrip(t *testing.T) {
	for _, term := range Terms {
		if got := s.Store.Term(term); got != term {
			t.Errorf("Term(%q) = %q: a store must keep a term this short whole", term, got)
		}
	}
	long2 := LongTerm[:299] + "X"
	if a, b := s.Store.Term(LongTerm), s.Store.Term(long2); a == b {
		t.Errorf("Term gives two different long terms the same form %q", a)
	}
	if s.Store.Term(LongTerm) != s.Store.Term(strings.Clone(LongTerm)) {
		t.Error("Term is not deterministic")
	}
	annotations := append(slices.Clone(Terms), LongTerm, "linux") // a repeat means nothing more
	var want []string
	for _, a := range annotations {
		want = append(want, s.Store.Term(a))
	}

	before := time.Now()
	sn := s.create(t, s.Default, "st-round", annotations...)
	after := time.Now()
	if sn.Name != "st-round" || sn.State != store.Pending || sn.Origin != s.Default || sn.Machine != "machine-st-round" {
		t.Errorf("Create returned %+v, want st-round, pending, origin %s, machine machine-st-round", sn, s.Default)
	}
	if !sameSet(sn.Annotations, want) {
		t.Errorf("Create returned annotations\n%q\nwant\n%q", sn.Annotations, want)
	}
	if sn.Created.Before(before.Add(-time.Second)) || sn.Created.After(after.Add(time.Second)) {
		t.Errorf("Created %v is not between %v and %v", sn.Created, before, after)
	}

	got := find(t, s.list(t), "st-round")
	if !sameSet(got.Annotations, want) || len(got.Annotations) != len(slices.Compact(slices.Sorted(slices.Values(want)))) {
		t.Errorf("List returned annotations\n%q\nwant\n%q", got.Annotations, want)
	}
	if !got.Created.Equal(sn.Created) {
		t.Errorf("List says created %v, Create said %v", got.Created, sn.Created)
	}
	if got.State != store.Pending || got.Machine != sn.Machine || got.Origin != s.Default || got.Default {
		t.Errorf("List returned %+v, want pending, machine %s, origin %s", got, sn.Machine, s.Default)
	}
}

func (s *suite) states(t *testing.T) {
	s.create(t, s.Default, "st-states", "linux")
	for _, st := range []store.State{store.InUse, store.Sealed} {
		s.setState(t, "st-states", st)
		if got := find(t, s.list(t), "st-states").State; got != st {
			t.Errorf("after SetState(%s) List says %s", st, got)
		}
	}
	if err := s.Store.SetState(ctx(), "st-states", "bogus"); err == nil {
		t.Error("SetState to an unknown state succeeded")
	}
	if got := find(t, s.list(t), "st-states").State; got != store.Sealed {
		t.Errorf("after a refused SetState, List says %s, want sealed", got)
	}
}

func (s *suite) mountPrivate(t *testing.T) {
	s.create(t, s.Default, "st-private-a")
	s.create(t, s.Default, "st-private-b")
	a := s.mount(t, "st-private-a")
	if got := readFile(t, a, DefaultFile); got != DefaultContent {
		t.Errorf("%s in a snapshot of the default volume holds %q, want %q", DefaultFile, got, DefaultContent)
	}
	writeFile(t, a, "only-in-a", "a")
	writeFile(t, a, DefaultFile, "changed in a")
	b := s.mount(t, "st-private-b")
	absent(t, b, "only-in-a")
	if got := readFile(t, b, DefaultFile); got != DefaultContent {
		t.Errorf("a write to snapshot a shows in snapshot b: %q", got)
	}
	s.unmount(t, a)
	s.unmount(t, b)
}

func (s *suite) createFromSealed(t *testing.T) {
	s.create(t, s.Default, "st-gen1", "linux", "main")
	dir := s.mount(t, "st-gen1")
	writeFile(t, dir, "gen1", "first job's cache")
	s.unmount(t, dir)
	s.setState(t, "st-gen1", store.Sealed)

	sn := s.create(t, "st-gen1", "st-gen2", "linux", "main")
	if sn.Origin != "st-gen1" {
		t.Errorf("Create returned origin %q, want st-gen1", sn.Origin)
	}
	if got := find(t, s.list(t), "st-gen2").Origin; got != "st-gen1" {
		t.Errorf("List says origin %q, want st-gen1", got)
	}
	dir = s.mount(t, "st-gen2")
	if got := readFile(t, dir, "gen1"); got != "first job's cache" {
		t.Errorf("the second generation reads %q", got)
	}
	if got := readFile(t, dir, DefaultFile); got != DefaultContent {
		t.Errorf("the second generation lost the default volume's file: %q", got)
	}
	s.unmount(t, dir)
}

func (s *suite) copySaves(t *testing.T) {
	s.create(t, s.Default, "st-job", "linux")
	s.setState(t, "st-job", store.InUse)
	dir := s.mount(t, "st-job")
	// Written and not synced: Copy must sync or freeze the filesystem.
	writeFile(t, dir, "saved", "written before save")

	if _, err := s.Store.Copy(ctx(), "st-job", t.TempDir(), "st-wrongdir", "m", nil); err == nil {
		t.Error("Copy with a directory that is not the snapshot's mount succeeded")
	}
	sn, err := s.Store.Copy(ctx(), "st-job", dir, "st-saved", "machine-st-job", []string{"linux", "saved"})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if sn.State != store.Sealed || sn.Origin != "st-job" || !sameSet(sn.Annotations, []string{"linux", "saved"}) {
		t.Errorf("Copy returned %+v, want sealed, origin st-job, annotations linux saved", sn)
	}
	writeFile(t, dir, "after", "written after save")
	writeFile(t, dir, "saved", "changed after save")

	snaps := s.list(t)
	got := find(t, snaps, "st-saved")
	if got.State != store.Sealed || got.Origin != "st-job" || got.Machine != "machine-st-job" || !sameSet(got.Annotations, []string{"linux", "saved"}) {
		t.Errorf("List returned the copy as %+v", got)
	}
	if st := find(t, snaps, "st-job").State; st != store.InUse {
		t.Errorf("the saved snapshot is %s after Copy, want still in-use", st)
	}
	if slices.Contains(names(snaps), "st-wrongdir") {
		t.Error("the refused Copy left a snapshot st-wrongdir")
	}

	s.create(t, "st-saved", "st-restored")
	restored := s.mount(t, "st-restored")
	if got := readFile(t, restored, "saved"); got != "written before save" {
		t.Errorf("a restore of the saved copy reads %q, want the content at save time", got)
	}
	absent(t, restored, "after")
	s.unmount(t, restored)
	s.unmount(t, dir)
}

func (s *suite) errors(t *testing.T) {
	s.create(t, s.Default, "st-exists")
	tests := []struct {
		name string
		err  func() error
		want error // nil: any error
	}{
		{"delete default", func() error { return s.Store.Delete(ctx(), s.Default) }, store.ErrDefault},
		{"set state of default", func() error { return s.Store.SetState(ctx(), s.Default, store.InUse) }, store.ErrDefault},
		{"mount default", func() error { return s.Store.Mount(ctx(), s.Default, t.TempDir()) }, store.ErrDefault},
		{"copy default", func() error {
			_, err := s.Store.Copy(ctx(), s.Default, t.TempDir(), "st-copy-default", "m", nil)
			return err
		}, store.ErrDefault},
		{"create named like default", func() error {
			_, err := s.Store.Create(ctx(), "st-exists", s.Default, "m", nil)
			return err
		}, store.ErrDefault},
		{"create existing", func() error {
			_, err := s.Store.Create(ctx(), s.Default, "st-exists", "m", nil)
			return err
		}, store.ErrExists},
		{"create from missing origin", func() error {
			_, err := s.Store.Create(ctx(), "st-no-such-origin", "st-orphan", "m", nil)
			return err
		}, store.ErrNotFound},
		{"delete missing", func() error { return s.Store.Delete(ctx(), "st-no-such") }, store.ErrNotFound},
		{"set state of missing", func() error { return s.Store.SetState(ctx(), "st-no-such", store.Sealed) }, store.ErrNotFound},
		{"create with a bad name", func() error {
			_, err := s.Store.Create(ctx(), s.Default, "../escape", "m", nil)
			return err
		}, nil},
		{"create with an empty term", func() error {
			_, err := s.Store.Create(ctx(), s.Default, "st-empty-term", "m", []string{"linux", ""})
			return err
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			switch {
			case err == nil:
				t.Fatal("no error")
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("error %v, want one that is %v", err, tt.want)
			}
			t.Logf("error (as expected): %v", err)
		})
	}
	snaps := s.list(t)
	for _, n := range []string{"st-orphan", "st-empty-term", "st-copy-default"} {
		if slices.Contains(names(snaps), n) {
			t.Errorf("a refused call left snapshot %s", n)
		}
	}
	find(t, snaps, s.Default)
}

func (s *suite) concurrent(t *testing.T) {
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Store.Create(ctx(), s.Default, fmt.Sprintf("st-par-%d", i), "m", []string{"linux", fmt.Sprint(i)})
		}()
	}
	wg.Wait()
	snaps := s.list(t)
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Create %d: %v", i, err)
			continue
		}
		sn := find(t, snaps, fmt.Sprintf("st-par-%d", i))
		if !sameSet(sn.Annotations, []string{"linux", fmt.Sprint(i)}) || sn.State != store.Pending {
			t.Errorf("concurrent Create %d listed as %+v", i, sn)
		}
	}
}

// busy checks store.BusyChecker, when the store has it.
func (s *suite) busy(t *testing.T, name string, want bool) {
	t.Helper()
	bc, ok := s.Store.(store.BusyChecker)
	if !ok {
		return
	}
	busy, where, err := bc.Busy(ctx(), name)
	if err != nil || busy != want || busy && where == "" {
		t.Errorf("Busy(%s) = %v, %q, %v; want %v and where when busy", name, busy, where, err, want)
	}
}

func (s *suite) delete(t *testing.T) {
	s.create(t, s.Default, "st-busy")
	s.busy(t, "st-busy", false)
	dir := s.mount(t, "st-busy")
	s.busy(t, "st-busy", true)
	if err := s.Store.Delete(ctx(), "st-busy"); err == nil {
		t.Error("Delete of a mounted snapshot succeeded")
	} else {
		t.Logf("Delete of a mounted snapshot (refused as expected): %v", err)
	}
	if got := readFile(t, dir, DefaultFile); got != DefaultContent {
		t.Errorf("the mounted snapshot reads %q after the refused Delete", got)
	}
	s.unmount(t, dir)
	s.busy(t, "st-busy", false)
	if bc, ok := s.Store.(store.BusyChecker); ok {
		if _, _, err := bc.Busy(ctx(), "st-no-such"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Busy of a missing snapshot: %v, want ErrNotFound", err)
		}
	}

	// Some of the snapshots the other checks made, in every state: pending
	// (st-busy, st-par-*), in-use (st-job), sealed (st-saved, an origin
	// of st-restored).
	before := s.list(t)
	var doomed []string
	for _, sn := range before {
		if sn.Name == "st-busy" || sn.Name == "st-job" || sn.Name == "st-saved" || strings.HasPrefix(sn.Name, "st-par-") {
			doomed = append(doomed, sn.Name)
		}
	}
	if len(doomed) != 7 {
		t.Fatalf("want 7 snapshots to delete, found %v in %v", doomed, names(before))
	}
	for _, n := range doomed {
		if err := s.Store.Delete(ctx(), n); err != nil {
			t.Errorf("Delete(%s): %v", n, err)
		}
	}
	after := s.list(t)
	if len(after) != len(before)-len(doomed) {
		t.Errorf("after deleting %v, List has %v", doomed, names(after))
	}
	for _, n := range doomed {
		if slices.Contains(names(after), n) {
			t.Errorf("%s is still listed after Delete", n)
		}
	}
	find(t, after, s.Default)
	if o := find(t, after, "st-restored").Origin; o != "" {
		t.Errorf("st-restored's origin st-saved is gone, yet List reports origin %q, want \"\"", o)
	}
	s.gone(t, doomed)
}

// gone checks what the agent relies on when its view is stale: a
// snapshot deleted meanwhile (by another request, by retention, by an
// operator) is ErrNotFound to Delete, SetState and Create from it, so
// that the agent forgets it or falls back to its next candidate, and no
// failed call leaves a snapshot behind.
func (s *suite) gone(t *testing.T, deleted []string) {
	for _, n := range deleted {
		if err := s.Store.Delete(ctx(), n); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Delete(%s) of a snapshot deleted meanwhile: %v, want ErrNotFound", n, err)
		}
	}
	if err := s.Store.SetState(ctx(), "st-saved", store.Sealed); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetState of a snapshot deleted meanwhile: %v, want ErrNotFound", err)
	}
	// st-saved was sealed and an origin: the agent may still hold it as
	// a candidate.
	if _, err := s.Store.Create(ctx(), "st-saved", "st-from-gone", "m", []string{"linux"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Create from an origin deleted meanwhile: %v, want ErrNotFound", err)
	} else {
		t.Logf("Create from an origin deleted meanwhile (refused as expected): %v", err)
	}
	if slices.Contains(names(s.list(t)), "st-from-gone") {
		t.Error("the refused Create from a deleted origin left snapshot st-from-gone")
	}
}

func (s *suite) usage(t *testing.T) {
	u, err := s.Store.Usage(ctx())
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	if u.DataPercent <= 0 || u.DataPercent > 100 || u.MetadataPercent < 0 || u.MetadataPercent > 100 || u.DataBytes <= 0 {
		t.Errorf("Usage = %+v, want data in (0, 100], metadata in [0, 100], a size", u)
	}
}
