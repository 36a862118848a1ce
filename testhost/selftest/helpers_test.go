package selftest

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/internal/sysexec"
)

// run runs a command inside the test kernel and fails the test if it fails.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	start := time.Now()
	out, err := tryRun(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %s (%v)", name, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return out
}

func tryRun(name string, args ...string) (string, error) {
	res, err := sysexec.Host{}.Run(context.Background(), sysexec.Cmd{Name: name, Args: args, Timeout: 2 * time.Minute})
	return string(res.Stdout), err
}

// lv is one row of `lvs --reportformat json`.
type lv struct {
	Name   string `json:"lv_name"`
	Attr   string `json:"lv_attr"`
	Tags   string `json:"lv_tags"`
	Origin string `json:"origin"`
	Pool   string `json:"pool_lv"`
}

// listLVs reads the volume group's logical volumes in one lvs call.
func listLVs(t testing.TB, vg string) map[string]lv {
	t.Helper()
	out := run(t, "lvs", "--reportformat", "json", "--options", "lv_name,lv_attr,lv_tags,origin,pool_lv", vg)
	var rep struct {
		Report []struct {
			LV []lv `json:"lv"`
		} `json:"report"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("parsing lvs JSON: %v\n%s", err, out)
	}
	lvs := map[string]lv{}
	for _, r := range rep.Report {
		for _, l := range r.LV {
			lvs[l.Name] = l
		}
	}
	return lvs
}

func tags(l lv) []string {
	if l.Tags == "" {
		return nil
	}
	return strings.Split(l.Tags, ",")
}

// writeMBR puts a DOS partition table with one Linux partition (1 MiB to
// 1 GiB) on disk and has the kernel read it.
func writeMBR(t testing.TB, disk string) {
	t.Helper()
	var mbr [512]byte
	entry := mbr[446:462]
	entry[4] = 0x83                                        // Linux
	binary.LittleEndian.PutUint32(entry[8:], 2048)         // first sector
	binary.LittleEndian.PutUint32(entry[12:], 2*1024*1024) // sectors: 1 GiB
	mbr[510], mbr[511] = 0x55, 0xaa
	f, err := os.OpenFile(disk, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(mbr[:], 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	run(t, "blockdev", "--rereadpt", disk)
}

func mount(t testing.TB, dev, dir string, opts ...string) {
	t.Helper()
	args := []string{dev, dir}
	if len(opts) > 0 {
		args = append(args, "-o", strings.Join(opts, ","))
	}
	run(t, "mount", args...)
}
