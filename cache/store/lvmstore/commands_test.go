package lvmstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// fake answers every command with a canned failure or success, and
// records the command lines. The real behaviour is tested in the test
// kernel (lvmstoretest); this pins down how LVM's messages map to the
// store's errors, which needs exact stderr.
type fake struct {
	cmds   []string
	stderr string
	stdout string
}

func (f *fake) Run(_ context.Context, cmd sysexec.Cmd) (sysexec.Result, error) {
	f.cmds = append(f.cmds, cmd.String())
	if cmd.Timeout <= 0 {
		return sysexec.Result{}, errors.New("command without a timeout")
	}
	if f.stderr != "" {
		return sysexec.Result{Stderr: []byte(f.stderr)}, &sysexec.Error{Cmd: cmd, ExitCode: 5, Stderr: f.stderr, Err: errors.New("exit status 5")}
	}
	return sysexec.Result{Stdout: []byte(f.stdout)}, nil
}

func TestLVMErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		stderr string // LVM 2.03.16's own words, from the test kernel
		op     func(s *Store) error
		want   error
		text   string
	}{
		{"create: name taken", `  Logical Volume "a" already exists in volume group "vg0"`,
			func(s *Store) error { _, err := s.Create(ctx, "default", "a", "m", nil); return err }, store.ErrExists, "already exists"},
		{"create: origin gone", "  Snapshot origin LV gone not found in Volume group vg0.",
			func(s *Store) error { _, err := s.Create(ctx, "gone", "a", "m", nil); return err }, store.ErrNotFound, "gone"},
		{"set state: no such LV", `  Failed to find logical volume "vg0/a"`,
			func(s *Store) error { return s.SetState(ctx, "a", store.InUse) }, store.ErrNotFound, "Failed to find"},
		{"list: no VG", `  Volume group "vg0" not found
  Cannot process volume group vg0`,
			func(s *Store) error { _, err := s.List(ctx); return err }, nil, "volume group vg0 does not exist"},
		{"create: pool full", "  Cannot create new thin volume, free space in thin pool vg0/pool reached threshold.",
			func(s *Store) error { _, err := s.Create(ctx, "default", "a", "m", nil); return err }, store.ErrFull, "reached threshold"},
		{"copy: pool full", "  Cannot create new thin volume, free space in thin pool vg0/pool reached threshold.",
			func(s *Store) error { _, err := s.snapshot(ctx, "a", "b", "m", nil, store.Sealed, nil); return err }, store.ErrFull, "thin pool of vg0/default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fake{stderr: tt.stderr}
			err := tt.op(fixtureStore(t, f))
			if err == nil || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("error %v, want one with %q", err, tt.text)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v is not %v", err, tt.want)
			}
			var se *sysexec.Error
			if !errors.As(err, &se) {
				t.Errorf("error %v does not carry the command's error", err)
			}
		})
	}
}

// The command lines of the one-command operations: what makes them
// crash-safe is in the arguments (every tag on the lvcreate itself).
// Create records what its origin mapped at the last List (the default
// volume: 3% of 2 GiB), sealing what the snapshot maps (5%), replacing
// a size tag it had.
func TestCommandLines(t *testing.T) {
	ctx := context.Background()
	const size = `"lv_size":"2147483648", "pool_lv":"pool"`
	f := &fake{stdout: withPool(`{"report":[{"lv":[`+
		`{"lv_name":"c1", "vg_name":"vg0", "lv_attr":"Vwi-aotz-k", `+size+`, "origin":"default", "lv_tags":"friend:snapshot,friend:state:in-use,friend:created:2026-11-22T09:15:57.93346475Z,friend:mapped:7", "lv_time":"1", "data_percent":"5.00", "metadata_percent":""}]}]}`,
		"twi-aotz--", "10.00", "10.00")}
	f.stdout = strings.Replace(f.stdout, `"lv_size":"1", "pool_lv":"pool", "origin":"", "lv_tags":"", "lv_time":"1", "data_percent":"3.16"`,
		size+`, "origin":"", "lv_tags":"", "lv_time":"1", "data_percent":"3.00"`, 1)
	s := fixtureStore(t, f)
	if _, err := s.List(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "default", "c1", "runner-1", []string{"refs/heads/x", "ü"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(ctx, "c1", store.InUse); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(ctx, "c1", store.Sealed); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"lvs *",
		"lvcreate --snapshot --name c1 --setactivationskip y --activate y --ignoreactivationskip --addtag friend:snapshot --addtag friend:state:pending --addtag friend:created:* --addtag rigplan:cache-snapshot --addtag friend:machine:runner-1 --addtag friend:cache:refs/heads/x --addtag friend:cache:&C3&BC --addtag friend:base:64424509 vg0/default",
		"lvchange --addtag friend:state:in-use --deltag friend:state:pending --deltag friend:state:sealed vg0/c1",
		"lvs * vg0/c1",
		"lvchange --activate n vg0/c1",
		"lvchange --addtag friend:state:sealed --addtag friend:mapped:107374182 --deltag friend:mapped:7 --deltag friend:state:pending --deltag friend:state:in-use vg0/c1",
	}
	if len(f.cmds) != len(want) {
		t.Fatalf("ran %q", f.cmds)
	}
	for i := range want {
		pre, post, _ := strings.Cut(want[i], "*")
		if got := f.cmds[i]; !strings.HasPrefix(got, pre) || !strings.HasSuffix(got, post) {
			t.Errorf("command %d:\n got %s\nwant %s", i, got, want[i])
		}
	}
	// Refused before any command runs.
	f.cmds = nil
	for _, err := range []error{
		s.Delete(ctx, "default"),
		s.SetState(ctx, "c1", "frozen"),
		s.Mount(ctx, "default", "/nonexistent"),
		func() error { _, err := s.Create(ctx, "default", "bad/name", "m", nil); return err }(),
		func() error { _, err := s.Create(ctx, "default", "c2", "m", []string{""}); return err }(),
	} {
		if err == nil {
			t.Error("a bad call succeeded")
		}
	}
	if len(f.cmds) > 0 {
		t.Errorf("refused calls ran %q", f.cmds)
	}
}

// Delete reads the LV first and leaves alone what is not the store's or
// is open; only then does it deactivate and remove.
func TestDeleteChecksFirst(t *testing.T) {
	ctx := context.Background()
	lv := func(tags, attr string) string {
		return `{"report":[{"lv":[{"lv_name":"x", "vg_name":"vg0", "lv_attr":"` + attr + `", "lv_size":"1", "pool_lv":"pool", "origin":"", "lv_tags":"` + tags + `", "lv_time":"1", "data_percent":"", "metadata_percent":""}]}]}`
	}
	tests := []struct {
		name   string
		report string
		want   string // error text, "" for success
		cmds   int
	}{
		{"not a member", lv("friend:cache:linux", "Vwi-a-tz--"), "not a cache snapshot", 1},
		{"open", lv("friend:snapshot,friend:state:in-use", "Vwi-aotz-k"), "unmount it first", 1},
		{"active", lv("friend:snapshot,friend:state:pending", "Vwi-a-tz-k"), "", 3},
		{"inactive", lv("friend:snapshot,friend:state:sealed", "Vwi---tz-k"), "", 2},
		{"pool out of data", withPool(lv("friend:snapshot,friend:state:sealed", "Vwi---tz-k"), "twi-aotzD-", "100.00", "13.38"), "", 2},
		// lvremove would drop the LV and fail to free it in the pool.
		{"pool metadata exhausted", withPool(lv("friend:snapshot,friend:state:sealed", "Vwi---tz-k"), "twi-cotzM-", "84.46", "99.41"), "lvconvert --repair vg0/pool", 1},
		{"pool metadata read-only, not full", withPool(lv("friend:snapshot,friend:state:sealed", "Vwi---tz-k"), "twi-aotzM-", "10.00", "20.00"), "read-only metadata", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fake{stdout: tt.report}
			err := fixtureStore(t, f).Delete(ctx, "x")
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Delete: %v, want %q", err, tt.want)
			}
			var fe *store.FullError
			if errors.As(err, &fe) && (fe.Store != "thin pool vg0/pool" || fe.Usage == nil || fe.Usage.MetadataPercent != 99.41) {
				t.Errorf("Delete's FullError names %q at %v, want thin pool vg0/pool at 99.41%% metadata", fe.Store, fe.Usage)
			}
			if len(f.cmds) != tt.cmds || !strings.HasPrefix(f.cmds[0], "lvs ") {
				t.Fatalf("ran %q, want lvs first and %d commands", f.cmds, tt.cmds)
			}
			if tt.cmds == 3 && !strings.HasPrefix(f.cmds[1], "lvchange --activate n") || tt.cmds > 1 && !strings.HasPrefix(f.cmds[tt.cmds-1], "lvremove vg0/x") {
				t.Errorf("ran %q", f.cmds)
			}
		})
	}
}

// withPool adds the default volume and its thin pool, with the pool's
// lv_attr and use, to a one-LV report of lv.
func withPool(report, attr, data, meta string) string {
	def := `{"lv_name":"default", "vg_name":"vg0", "lv_attr":"Vwi-a-tz--", "lv_size":"1", "pool_lv":"pool", "origin":"", "lv_tags":"", "lv_time":"1", "data_percent":"3.16", "metadata_percent":""}`
	pool := `{"lv_name":"pool", "vg_name":"vg0", "lv_attr":"` + attr + `", "lv_size":"268435456", "pool_lv":"", "origin":"", "lv_tags":"", "lv_time":"1", "data_percent":"` + data + `", "metadata_percent":"` + meta + `"}`
	return strings.Replace(report, "}]}]}", "},"+def+","+pool+"]}]}", 1)
}
