package btrfsstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/cache/store/storetest"
)

var bg = context.Background()

// The store keeps every promise of store.Store on a real btrfs.
func TestConformance(t *testing.T) {
	s, _ := newStore(t, 1<<30)
	storetest.Run(t, storetest.Env{Store: s, Default: "default"})
}

func listed(t *testing.T, s *Store) map[string]store.Snapshot {
	t.Helper()
	snaps, err := s.List(bg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Snapshot{}
	for _, sn := range snaps {
		out[sn.Name] = sn
	}
	return out
}

// Each point a create, copy or delete can be interrupted at leaves
// something List reports Pending, and Delete clears it.
func TestInterruptedStepsArePending(t *testing.T) {
	s, _ := newStore(t, 1<<30)
	tests := []struct {
		name  string
		setup func(t *testing.T, name string)
	}{
		{"create: subvolume made, no sidecar yet", func(t *testing.T, name string) {
			if err := s.snapshot(bg, s.defPath, name, false); err != nil {
				t.Fatal(err)
			}
		}},
		{"copy: read-only subvolume made, no sidecar yet", func(t *testing.T, name string) {
			if err := s.snapshot(bg, s.defPath, name, true); err != nil {
				t.Fatal(err)
			}
		}},
		{"delete: subvolume gone, sidecar left", func(t *testing.T, name string) {
			if _, err := s.Create(bg, "default", name, "m", []string{"linux"}); err != nil {
				t.Fatal(err)
			}
			parent, err := os.Open(s.dir)
			if err != nil {
				t.Fatal(err)
			}
			defer parent.Close()
			if err := destroy(parent, name); err != nil {
				t.Fatal(err)
			}
		}},
		{"sidecar cut short (power cut before writeback)", func(t *testing.T, name string) {
			if _, err := s.Create(bg, "default", name, "m", []string{"linux"}); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(filepath.Join(s.meta(), name), 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"sidecar of a future version", func(t *testing.T, name string) {
			if _, err := s.Create(bg, "default", name, "m", []string{"linux"}); err != nil {
				t.Fatal(err)
			}
			b := []byte(`{"version":2,"state":"sealed","created":"2024-05-01T12:00:00Z"}`)
			if err := os.WriteFile(filepath.Join(s.meta(), name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("crash-%d", i)
			tt.setup(t, name)
			// A temporary sidecar left by a crash in writeSidecar.
			if err := os.WriteFile(filepath.Join(s.meta(), "."+name+".123"), []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
			sn, ok := listed(t, s)[name]
			if !ok || sn.State != store.Pending {
				t.Fatalf("List reports %s as %+v (listed %v), want Pending", name, sn, ok)
			}
			if err := s.Delete(bg, name); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, ok := listed(t, s)[name]; ok {
				t.Errorf("%s still listed after Delete", name)
			}
			left, _ := filepath.Glob(filepath.Join(s.meta(), "*"+name+"*"))
			if _, err := os.Lstat(s.path(name)); !errors.Is(err, os.ErrNotExist) || len(left) > 0 {
				t.Errorf("after Delete: subvolume stat %v, metadata files left %v", err, left)
			}
		})
	}
}

// Sealing makes the subvolume read-only, and so are copies.
func TestSealedIsReadOnly(t *testing.T) {
	s, _ := newStore(t, 1<<30)
	if _, err := s.Create(bg, "default", "job", "m", nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := s.Mount(bg, "job", dir); err != nil {
		t.Fatal(err)
	}
	defer s.Unmount(bg, dir)
	if _, err := s.Copy(bg, "job", dir, "saved", "m", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(bg, "job", store.Sealed); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "x"), filepath.Join(s.path("saved"), "x")} {
		err := os.WriteFile(p, []byte("x"), 0o644)
		if !errors.Is(err, unix.EROFS) {
			t.Errorf("write %s in a sealed snapshot: %v, want EROFS", p, err)
		}
	}
	// A writable snapshot of a sealed one.
	if _, err := s.Create(bg, "saved", "next", "m", nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.path("next"), "x"), []byte("x"), 0o644); err != nil {
		t.Errorf("a snapshot of a sealed snapshot is not writable: %v", err)
	}
}

// Delete looks for mounts in every mount namespace: btrfs itself would
// delete a subvolume bind-mounted into a machine and leave that mount
// empty.
func TestDeleteRefusesMountInAnotherNamespace(t *testing.T) {
	s, _ := newStore(t, 1<<30)
	if _, err := s.Create(bg, "default", "inmachine", "m", nil); err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	ready := filepath.Join(t.TempDir(), "ready")
	// A private mount namespace, as a machine has, holding a bind mount
	// of the snapshot; nothing of it is visible in ours.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", `mount --bind "$1" "$2" && touch "$3" && exec sleep 60`, "sh", s.path("inmachine"), target, ready)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the namespace's mount never became ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if busy, where, err := s.Busy(bg, "inmachine"); err != nil || !busy || !strings.Contains(where, "pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("Busy = %v, %q, %v; want busy in pid %d's namespace", busy, where, err, cmd.Process.Pid)
	}
	err := s.Delete(bg, "inmachine")
	if err == nil || !strings.Contains(err.Error(), "pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("Delete of a snapshot mounted in another namespace: %v, want a refusal naming pid %d", err, cmd.Process.Pid)
	}
	if _, ok := listed(t, s)["inmachine"]; !ok {
		t.Fatal("the refused Delete removed the snapshot")
	}
	cmd.Process.Kill()
	cmd.Wait()
	if err := s.Delete(bg, "inmachine"); err != nil {
		t.Fatalf("Delete once the namespace is gone: %v", err)
	}
}

// Usage is what df computes from the same statfs, so the watermarks mean
// what an operator sees in df.
func TestUsageMatchesDf(t *testing.T) {
	s, mnt := newStore(t, 1<<30)
	// Something to count: 64 MiB in the default subvolume.
	if err := os.WriteFile(filepath.Join(mnt, "default", "blob"), make([]byte, 64<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, "sync")
	u, err := s.Usage(bg)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(sh(t, "df", "-B1", "--output=size,used,avail", s.dir))
	if len(fields) != 6 {
		t.Fatalf("df printed %q", fields)
	}
	size, _ := strconv.ParseFloat(fields[3], 64)
	used, _ := strconv.ParseFloat(fields[4], 64)
	avail, _ := strconv.ParseFloat(fields[5], 64)
	want := used / (used + avail) * 100
	if d := u.DataPercent - want; d < -0.5 || d > 0.5 || float64(u.DataBytes) != size {
		t.Errorf("Usage = %+v, df says %.2f%% of %.0f bytes", u, want, size)
	}
	if u.DataPercent < 5 {
		t.Errorf("Usage %.2f%% does not count the 64 MiB written to a 1 GiB filesystem", u.DataPercent)
	}
}

// List leaves alone what is not the store's: plain directories and files
// in its directory, and the default subvolume when it lives there too.
func TestListIgnoresForeignEntries(t *testing.T) {
	mnt := loopBtrfs(t, 1<<30)
	dir := filepath.Join(mnt, "cache")
	sh(t, "btrfs", "subvolume", "create", dir) // the directory may be a subvolume itself
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	def := filepath.Join(dir, "base")
	sh(t, "btrfs", "subvolume", "create", def)
	if err := os.Mkdir(filepath.Join(dir, "plain-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, "btrfs", "subvolume", "create", filepath.Join(dir, ".hidden"))
	s, err := New(Config{Dir: dir, Default: def})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(bg, "base", "one", "m", []string{"x"}); err != nil {
		t.Fatal(err)
	}
	snaps, err := s.List(bg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sn := range snaps {
		got = append(got, fmt.Sprintf("%s:%s:%v", sn.Name, sn.State, sn.Default))
	}
	if want := []string{"base:sealed:true", "one:pending:false"}; !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	if err := s.Delete(bg, "plain-dir"); err == nil {
		t.Error("Delete of a plain directory that is not a snapshot succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "plain-dir")); err != nil {
		t.Errorf("the refused Delete touched plain-dir: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	mnt := loopBtrfs(t, 1<<30)
	def := filepath.Join(mnt, "default")
	sh(t, "btrfs", "subvolume", "create", def)
	other := filepath.Join(loopBtrfs(t, 1<<30), "default")
	sh(t, "btrfs", "subvolume", "create", other)
	plain := filepath.Join(mnt, "plain")
	if err := os.Mkdir(plain, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"not on btrfs", Config{Dir: t.TempDir(), Default: def}, "not on btrfs"},
		{"default not a subvolume", Config{Dir: mnt, Default: plain}, "not a btrfs subvolume"},
		{"default not on btrfs", Config{Dir: mnt, Default: t.TempDir()}, "not on btrfs"},
		{"default on another btrfs", Config{Dir: mnt, Default: other}, "not on the filesystem"},
		{"missing directory", Config{Dir: filepath.Join(mnt, "nope"), Default: def}, "no such file"},
		{"nothing set", Config{}, "must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New(%+v) = %v, want an error mentioning %q", tt.cfg, err, tt.want)
			}
		})
	}
}
