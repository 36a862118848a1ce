package btrfsstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// fillOrigin writes files of size bytes each into the default subvolume,
// spread over directories of 1000.
func fillOrigin(b *testing.B, def string, files, size int) {
	b.Helper()
	buf := make([]byte, size)
	for i := range files {
		dir := filepath.Join(def, fmt.Sprintf("d%03d", i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d", i)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	sh(b, "sync")
}

// BenchmarkCreate compares, side by side, the cost of a snapshot of a
// small origin (10 files) and of a large one (20,000 files of 4 KiB,
// about 80 MiB), made three ways:
//
//   - ioctl: Store.Create (BTRFS_IOC_SNAP_CREATE_V2 and the sidecar);
//   - command: `btrfs subvolume snapshot` through sysexec, plus the same
//     sidecar, the alternative the store did not take;
//   - restore: what the agent does per mount request: Create, Mount,
//     SetState(in-use) and Unmount.
//
// Deleting the snapshots is not timed.
func BenchmarkCreate(b *testing.B) {
	for _, origin := range []struct {
		name        string
		files, size int
	}{{"small", 10, 4096}, {"large", 20000, 4096}} {
		b.Run(origin.name, func(b *testing.B) {
			s, _ := newStore(b, 4<<30)
			fillOrigin(b, s.defPath, origin.files, origin.size)
			ctx := context.Background()
			n := 0
			next := func() string { n++; return fmt.Sprintf("b%06d", n) }
			cleanup := func(names []string) {
				b.StopTimer()
				for _, name := range names {
					if err := s.Delete(ctx, name); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
			}
			b.Run("ioctl", func(b *testing.B) {
				var made []string
				for range b.N {
					name := next()
					if _, err := s.Create(ctx, "default", name, "m", []string{"linux"}); err != nil {
						b.Fatal(err)
					}
					made = append(made, name)
				}
				cleanup(made)
			})
			b.Run("command", func(b *testing.B) {
				var made []string
				for range b.N {
					name := next()
					cmd := sysexec.Cmd{Name: "btrfs", Args: []string{"-q", "subvolume", "snapshot", s.defPath, s.path(name)}, Timeout: time.Minute}
					if _, err := (sysexec.Host{}).Run(ctx, cmd); err != nil {
						b.Fatal(err)
					}
					m, _ := newSidecar(store.Pending, "m", "default", []string{"linux"})
					if err := writeSidecar(s.meta(), name, m, false); err != nil {
						b.Fatal(err)
					}
					made = append(made, name)
				}
				cleanup(made)
			})
			b.Run("restore", func(b *testing.B) {
				dir := b.TempDir()
				var made []string
				for range b.N {
					name := next()
					if _, err := s.Create(ctx, "default", name, "m", []string{"linux"}); err != nil {
						b.Fatal(err)
					}
					if err := s.Mount(ctx, name, dir); err != nil {
						b.Fatal(err)
					}
					if err := s.SetState(ctx, name, store.InUse); err != nil {
						b.Fatal(err)
					}
					if err := s.Unmount(ctx, dir); err != nil {
						b.Fatal(err)
					}
					made = append(made, name)
				}
				cleanup(made)
			})
		})
	}
}
