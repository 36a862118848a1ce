package lvmstoretest

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/cache/store/lvmstore"
	"github.com/rigplan/rigplan/cache/store/storetest"
	"github.com/rigplan/rigplan/internal/sysexec"
)

var update = flag.Bool("update", false, "write the captured lvs output and superblocks to ../testdata")

// recorder runs commands on the host and keeps the output of the last lvs.
type recorder struct {
	mu  sync.Mutex
	lvs []byte
}

func (r *recorder) Run(ctx context.Context, cmd sysexec.Cmd) (sysexec.Result, error) {
	res, err := sysexec.Host{}.Run(ctx, cmd)
	if cmd.Name == "lvs" && err == nil {
		r.mu.Lock()
		r.lvs = res.Stdout
		r.mu.Unlock()
	}
	return res, err
}

// The fixture behind ../testdata/lvs.json: every kind of LV the store
// meets in a volume group, made by the store itself where it can be and
// by hand where an operator would have. The test checks List against it
// here, in the real kernel; with -update it also writes the lvs output
// List parsed, and superblocks for the filesystem probe, to ../testdata,
// where the store's unit tests read them.
func TestCaptureFixture(t *testing.T) {
	e := setup(t, "xfs", "4G", 0)
	rec := &recorder{}
	s := e.newStore(rec)
	ctx := bg
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	create := func(name, machine string, terms ...string) {
		t.Helper()
		_, err := s.Create(ctx, "default", name, machine, terms)
		must(err)
	}
	create("c-pending", "runner-1", "linux", "refs/heads/feature/x", "ünïcødé☃", storetest.LongTerm)
	create("c-in-use", "runner-2", "linux", "main")
	must(s.SetState(ctx, "c-in-use", store.InUse))
	dir := t.TempDir()
	must(s.Mount(ctx, "c-in-use", dir))
	defer s.Unmount(ctx, dir)
	create("c-sealed", "runner-2", "linux", "main")
	must(s.SetState(ctx, "c-sealed", store.Sealed))
	_, err := s.Copy(ctx, "c-in-use", dir, "c-saved", "runner-2", []string{"linux", "main", "C#"})
	must(err)
	create("c-bad", "runner-3", "x")
	sh(t, "lvchange", "-q", "--addtag", ns+":state:sealed", vg+"/c-bad") // a second state: hand-edited
	// Not the store's: a thin volume with a term tag but no membership, a
	// linear LV with the membership tag, another namespace's snapshot.
	sh(t, "lvcreate", "-q", "--type", "thin", "--virtualsize", "300M", "--thinpool", vg+"/pool", "--name", "handmade", "--addtag", ns+":cache:linux")
	sh(t, "lvcreate", "-q", "--size", "64M", "--name", "scratch", "--addtag", ns+":snapshot", vg)
	other, err := lvmstore.New(sysexec.Host{}, lvmstore.Config{Default: vg + "/default"})
	must(err)
	_, err = other.Create(ctx, "default", "o-1", "runner-9", []string{"linux"})
	must(err)
	// Filesystems for the probe.
	for _, fs := range []string{"ext4", "btrfs"} {
		sh(t, "lvcreate", "-q", "--type", "thin", "--virtualsize", "300M", "--thinpool", vg+"/pool", "--name", fs+"vol")
		mkfs(t, fs, "/dev/"+vg+"/"+fs+"vol")
	}

	snaps, err := s.List(ctx)
	must(err)
	var got []string
	for _, sn := range snaps {
		got = append(got, sn.Name+":"+string(sn.State)+":"+sn.Origin)
	}
	want := []string{"default:sealed:", "c-pending:pending:default", "c-in-use:in-use:default", "c-sealed:sealed:default", "c-saved:sealed:c-in-use", "c-bad:pending:default"}
	if !slices.Equal(got, want) {
		t.Errorf("List = %q\nwant %q", got, want)
	}
	if !*update {
		return
	}
	out := filepath.Join("..", "testdata")
	must(os.WriteFile(filepath.Join(out, "lvs.json"), rec.lvs, 0o644))
	for _, sb := range []struct{ lv, file string }{{"default", "xfs"}, {"ext4vol", "ext4"}, {"btrfsvol", "btrfs"}, {"scratch", "none"}} {
		f, err := os.Open("/dev/" + vg + "/" + sb.lv)
		must(err)
		head := make([]byte, 68<<10)
		_, err = io.ReadFull(f, head)
		f.Close()
		must(err)
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(head)
		must(zw.Close())
		must(os.WriteFile(filepath.Join(out, "superblock-"+sb.file+".gz"), buf.Bytes(), 0o644))
	}
	t.Logf("wrote %s", strings.Join([]string{"lvs.json", "superblock-*.gz"}, ", "))
}
