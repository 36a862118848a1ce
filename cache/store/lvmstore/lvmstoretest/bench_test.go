package lvmstoretest

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store/lvmstore"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// BenchmarkCreateMount measures a restore (Create from the default volume
// and Mount, what a mount request costs the store) from a default volume
// holding 10 MiB and one holding 500 MiB of files, side by side in one
// run: thin snapshots cost the same whatever the origin holds. Unmount
// and Delete are not timed. cmds/op counts LVM commands; create-ms/op
// and mount-ms/op split the time.
//
// In the test kernel every LVM command costs about a second (each system
// call is a ptrace round trip under User-Mode Linux), so the absolute
// figures are those of one lvcreate there; the ratio is the point.
//
//	go test ./cache/store/lvmstore/lvmstoretest -run '^$' -bench . -benchtime 5x
func BenchmarkCreateMount(b *testing.B) {
	e := setup(b, "xfs", "4G", 10<<20)
	sh(b, "lvcreate", "-q", "--type", "thin", "--virtualsize", "2G", "--thinpool", vg+"/pool", "--name", "big")
	mkfs(b, "xfs", "/dev/"+vg+"/big")
	dir := b.TempDir()
	if err := unix.Mount("/dev/"+vg+"/big", dir, "xfs", 0, ""); err != nil {
		b.Fatal(err)
	}
	writeFiles(b, dir, 500<<20)
	if err := unix.Unmount(dir, 0); err != nil {
		b.Fatal(err)
	}
	for _, origin := range []struct{ name, lv string }{{"10MiB", "default"}, {"500MiB", "big"}} {
		b.Run(origin.name, func(b *testing.B) {
			c := &sysexec.Counter{Runner: sysexec.Host{}}
			s, err := lvmstore.New(c, lvmstore.Config{Default: vg + "/" + origin.lv, Namespace: ns})
			if err != nil {
				b.Fatal(err)
			}
			mnt := b.TempDir()
			cmds := 0
			var create, mount time.Duration
			for i := range b.N {
				name := fmt.Sprintf("%s-%d", origin.lv, i)
				before := c.Count()
				start := time.Now()
				if _, err := s.Create(bg, origin.lv, name, "m", []string{"linux"}); err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				if err := s.Mount(bg, name, mnt); err != nil {
					b.Fatal(err)
				}
				create += mid.Sub(start)
				mount += time.Since(mid)
				cmds += c.Count() - before
				b.StopTimer()
				if err := s.Unmount(bg, mnt); err != nil {
					b.Fatal(err)
				}
				if err := s.Delete(bg, name); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(cmds)/float64(b.N), "cmds/op")
			b.ReportMetric(float64(create.Milliseconds())/float64(b.N), "create-ms/op")
			b.ReportMetric(float64(mount.Milliseconds())/float64(b.N), "mount-ms/op")
		})
	}
	_ = e
}
