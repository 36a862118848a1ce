package lvmstoretest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/cache/store/lvmstore"
	"github.com/rigplan/rigplan/cache/store/storetest"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/testhost"
)

const (
	vg = "vg0"
	ns = "friend" // the original setup's namespace: friend:snapshot, friend:cache:TERM
)

var bg = context.Background()

// sh runs a command for a test's own setup or inspection.
func sh(t testing.TB, name string, args ...string) string {
	t.Helper()
	res, err := (sysexec.Host{}).Run(bg, sysexec.Cmd{Name: name, Args: args, Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return string(res.Stdout)
}

// env is a volume group with a thin pool and a default volume, set up
// with LVM's own commands the way the LVM provider makes them, and a
// store over it.
type env struct {
	t     testing.TB
	disks []string
	store *lvmstore.Store
}

// setup makes vg0 on the first scratch disk, the thin pool vg0/pool of
// poolSize and the default volume vg0/default (2 GiB, fs), holding
// storetest.DefaultFile, plus extra bytes of files when fill > 0.
func setup(t testing.TB, fs string, poolSize string, fill int64) *env {
	t.Helper()
	return setupPool(t, fs, fill, nil, "--size", poolSize)
}

// setupPool is setup with more arguments for vgcreate and lvcreate's of
// the thin pool (which needs at least --size).
func setupPool(t testing.TB, fs string, fill int64, vgArgs []string, poolArgs ...string) *env {
	t.Helper()
	k := testhost.Kernel(t)
	e := &env{t: t, disks: k.Disks()}
	sh(t, "pvcreate", "-q", e.disks[0])
	sh(t, "vgcreate", append(append([]string{"-q"}, vgArgs...), vg, e.disks[0])...)
	sh(t, "lvcreate", append(append([]string{"-q", "--type", "thin-pool"}, poolArgs...), "--name", "pool", vg)...)
	sh(t, "lvcreate", "-q", "--type", "thin", "--virtualsize", "2G", "--thinpool", vg+"/pool", "--name", "default",
		"--addtag", "rigplan:managed", "--addtag", "rigplan:addr:volume.default")
	mkfs(t, fs, "/dev/"+vg+"/default")
	dir := t.TempDir()
	if err := unix.Mount("/dev/"+vg+"/default", dir, fs, 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, storetest.DefaultFile), []byte(storetest.DefaultContent), 0o644); err != nil {
		t.Fatal(err)
	}
	if fill > 0 {
		writeFiles(t, dir, fill)
	}
	if err := unix.Unmount(dir, 0); err != nil {
		t.Fatal(err)
	}
	e.store = e.newStore(sysexec.Host{})
	return e
}

func mkfs(t testing.TB, fs, dev string) {
	t.Helper()
	switch fs {
	case "btrfs":
		sh(t, "mkfs.btrfs", "-q", dev)
	default:
		sh(t, "mkfs."+fs, "-q", dev)
	}
}

// writeFiles writes total bytes into dir as 1 MiB files.
func writeFiles(t testing.TB, dir string, total int64) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for i := int64(0); i*int64(len(buf)) < total; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("fill-%04d", i)), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) newStore(run sysexec.Runner) *lvmstore.Store {
	e.t.Helper()
	s, err := newStore(run)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func newStore(run sysexec.Runner) (*lvmstore.Store, error) {
	return lvmstore.New(run, lvmstore.Config{Default: vg + "/default", Namespace: ns})
}

// lv is a row of a plain `lvs` run by the test itself, to check the store
// against LVM's own view rather than against the store's parser.
type lv struct {
	Name   string `json:"lv_name"`
	Attr   string `json:"lv_attr"`
	Tags   string `json:"lv_tags"`
	Origin string `json:"origin"`
	Data   string `json:"data_percent"`
	Meta   string `json:"metadata_percent"`
}

func lvs(t testing.TB) map[string]lv {
	t.Helper()
	out := sh(t, "lvs", "--reportformat", "json", "-o", "lv_name,lv_attr,lv_tags,origin,data_percent,metadata_percent", vg)
	var r struct {
		Report []struct {
			LV []lv `json:"lv"`
		} `json:"report"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("lvs: %v\n%s", err, out)
	}
	m := map[string]lv{}
	for _, p := range r.Report {
		for _, x := range p.LV {
			m[x.Name] = x
		}
	}
	return m
}

// lvNames lists the volume group's visible LVs, sorted, as LVM sees them.
func lvNames(t testing.TB) []string {
	t.Helper()
	var out []string
	for n := range lvs(t) {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func byName(t testing.TB, s store.Store) map[string]store.Snapshot {
	t.Helper()
	snaps, err := s.List(bg)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]store.Snapshot{}
	for _, sn := range snaps {
		m[sn.Name] = sn
	}
	return m
}
