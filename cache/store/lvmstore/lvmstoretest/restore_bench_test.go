package lvmstoretest

import (
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

	"github.com/rigplan/rigplan/cache/store/lvmstore"
	"github.com/rigplan/rigplan/cache/store/storetest"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// restoreTree is the cache BenchmarkRestoreVsTar restores: a tenth of
// the one cache/agent's BenchmarkRestore uses (10,000 files, 100 MiB,
// the same node_modules-like mix). In the test kernel, writing that tree
// takes about a minute and a half, its tarballs most of another, and
// tar -x of it a quarter of a minute; the full 100,000 files would take
// about 25 minutes. The store's restore costs the same either way; the
// tarball's grows with the tree, so the ratios here are a tenth of what
// the full tree would show.
var restoreTree = storetest.TreeSpec{Files: 10_000, Bytes: 100 << 20, Seed: 1}

// minRestores is the fewest store restores each lvm row makes, whatever
// b.N, for a median of more than one.
const minRestores = 5

// BenchmarkRestoreVsTar is cache/agent's BenchmarkRestore for the LVM
// store, in the test kernel: side by side in one run, a restore of the
// cache (Create a thin snapshot of the volume holding it and Mount it,
// what a mount request costs the store; Unmount and Delete untimed),
// the same from the default volume with next to nothing in it, and
// `tar -x` and `tar --zstd -x` of the same tree into a fresh thin volume
// of the same pool (its tarballs on another volume of the pool). It
// prints a table of medians and their ratios.
//
// Under User-Mode Linux every system call is a ptrace round trip:
// absolute figures are far above a real kernel's (an LVM command takes
// about a second), the ratios are the point. The whole run takes about
// four minutes.
//
//	go test ./cache/store/lvmstore/lvmstoretest -run '^$' -bench RestoreVsTar
func BenchmarkRestoreVsTar(b *testing.B) {
	for _, tool := range []string{"tar", "zstd"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("needs %s (Debian packages tar, zstd)", tool)
		}
	}
	setup(b, "xfs", "7G", 0)
	// The cache's volume, and a volume for the tarballs and the
	// extractions (extraction targets are fresh volumes of the pool).
	for _, v := range []struct{ name, size string }{{"big", "2G"}, {"tarballs", "3G"}} {
		sh(b, "lvcreate", "-q", "--type", "thin", "--virtualsize", v.size, "--thinpool", vg+"/pool", "--name", v.name)
		mkfs(b, "xfs", "/dev/"+vg+"/"+v.name)
	}
	bigDir := mountLV(b, "big")
	tarDir := mountLV(b, "tarballs")
	start := time.Now()
	st, err := storetest.WriteTree(bigDir, restoreTree)
	if err != nil {
		b.Fatal(err)
	}
	built := time.Since(start)
	tarball, zstball := filepath.Join(tarDir, "cache.tar"), filepath.Join(tarDir, "cache.tar.zst")
	start = time.Now()
	sh(b, "tar", "-C", bigDir, "-cf", tarball, ".")
	sh(b, "tar", "-C", bigDir, "--zstd", "-cf", zstball, ".")
	sh(b, "sync")
	b.Logf("cache: %v; built in %v, tarballs in %v", st, built.Round(time.Second), time.Since(start).Round(time.Second))
	if err := unix.Unmount(bigDir, 0); err != nil {
		b.Fatal(err)
	}

	var res struct{ big, small, tar, zstd []time.Duration }
	b.Run("lvm-big", func(b *testing.B) { res.big = lvmRestores(b, "big", max(b.N, minRestores)) })
	b.Run("lvm-small", func(b *testing.B) { res.small = lvmRestores(b, "default", max(b.N, minRestores)) })
	b.Run("tar", func(b *testing.B) { res.tar = tarExtractions(b, b.N, "-xf", tarball) })
	b.Run("tar-zstd", func(b *testing.B) { res.zstd = tarExtractions(b, b.N, "--zstd", "-xf", zstball) })

	median := func(s []time.Duration) time.Duration {
		if len(s) == 0 {
			return 0
		}
		s = slices.Sorted(slices.Values(s))
		return s[(len(s)-1)/2]
	}
	base := median(res.big)
	var out strings.Builder
	fmt.Fprintf(&out, "\nrestore of a cache of %v\non LVM thin volumes (xfs) in the test kernel (User-Mode Linux), side by side in one run\n", st)
	fmt.Fprintf(&out, "  %-40s %5s %9s %9s\n", "", "runs", "median", "/ lvm")
	for _, r := range []struct {
		what string
		s    []time.Duration
	}{
		{fmt.Sprintf("lvm store, %d-file cache", st.Files), res.big},
		{"lvm store, default volume (1 file)", res.small},
		{"tar -x", res.tar},
		{"tar --zstd -x", res.zstd},
	} {
		ratio := "-"
		if m := median(r.s); m > 0 && base > 0 {
			ratio = times(float64(m) / float64(base))
		}
		fmt.Fprintf(&out, "  %-40s %5d %9s %9s\n", r.what, len(r.s), seconds(median(r.s)), ratio)
	}
	fmt.Fprint(os.Stdout, out.String())
}

// times formats a ratio: two significant digits, whole numbers from 10.
func times(r float64) string {
	if r >= 10 {
		return strconv.FormatFloat(r, 'f', 0, 64) + "x"
	}
	return strconv.FormatFloat(r, 'g', 2, 64) + "x"
}

// seconds formats d in seconds, three significant digits.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'g', 3, 64) + " s"
}

// mountLV mounts vg0/name at a new directory, unmounted when b ends if
// it still is.
func mountLV(b *testing.B, name string) string {
	b.Helper()
	dir := b.TempDir()
	if err := unix.Mount("/dev/"+vg+"/"+name, dir, "xfs", 0, ""); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Unmount(dir, 0) })
	return dir
}

// lvmRestores times n restores of origin through the store: Create and
// Mount; Unmount and Delete are not timed.
func lvmRestores(b *testing.B, origin string, n int) []time.Duration {
	s, err := lvmstore.New(sysexec.Host{}, lvmstore.Config{Default: vg + "/" + origin, Namespace: ns})
	if err != nil {
		b.Fatal(err)
	}
	mnt := b.TempDir()
	var out []time.Duration
	b.ResetTimer()
	for i := range n {
		name := fmt.Sprintf("r-%s-%d-%d", origin, b.N, i)
		start := time.Now()
		if _, err := s.Create(bg, origin, name, "m", []string{"bench"}); err != nil {
			b.Fatal(err)
		}
		if err := s.Mount(bg, name, mnt); err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Since(start))
		b.StopTimer()
		if err := s.Unmount(bg, mnt); err != nil {
			b.Fatal(err)
		}
		if err := s.Delete(bg, name); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	// More restores than b.N may have run: ns/op is the mean of those.
	var sum time.Duration
	for _, d := range out {
		sum += d
	}
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(out)), "ns/op")
	return out
}

// tarExtractions times n runs of tar with args into a fresh thin volume
// of the pool; making, syncing and removing the volume are not timed.
func tarExtractions(b *testing.B, n int, args ...string) []time.Duration {
	var out []time.Duration
	b.StopTimer()
	for i := range n {
		name := fmt.Sprintf("extract-%d", i)
		sh(b, "lvcreate", "-q", "--type", "thin", "--virtualsize", "2G", "--thinpool", vg+"/pool", "--name", name)
		mkfs(b, "xfs", "/dev/"+vg+"/"+name)
		dir := mountLV(b, name)
		args := append(slices.Clone(args), "-C", dir)
		b.StartTimer()
		start := time.Now()
		res, err := exec.Command("tar", args...).CombinedOutput()
		took := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("tar %s: %v\n%s", strings.Join(args, " "), err, res)
		}
		out = append(out, took)
		if err := unix.Unmount(dir, 0); err != nil {
			b.Fatal(err)
		}
		sh(b, "lvremove", "-q", "-y", vg+"/"+name)
	}
	return out
}
