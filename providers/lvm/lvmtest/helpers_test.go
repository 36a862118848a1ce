package lvmtest

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/internal/sysexec"
)

// sh runs a host command for a test's own setup or inspection.
func (e *env) sh(name string, args ...string) string {
	e.t.Helper()
	res, err := sysexec.Host{}.Run(context.Background(), sysexec.Cmd{Name: name, Args: args})
	if err != nil {
		e.t.Fatal(err)
	}
	return string(res.Stdout)
}

// mount mounts dev on a temporary directory until the test ends (or
// umount).
func (e *env) mount(dev string) string {
	e.t.Helper()
	dir := e.t.TempDir()
	e.sh("mount", dev, dir)
	e.t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil && err != unix.EINVAL {
			e.t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func (e *env) umount(dir string) {
	e.t.Helper()
	if err := unix.Unmount(dir, 0); err != nil {
		e.t.Fatalf("unmount %s: %v", dir, err)
	}
}

// link makes a /dev/disk/by-id style symlink to a disk.
func (e *env) link(disk string) string {
	e.t.Helper()
	l := filepath.Join(e.t.TempDir(), "by-id-"+filepath.Base(disk))
	if err := os.Symlink(disk, l); err != nil {
		e.t.Fatal(err)
	}
	return l
}

// fsSize is the size statfs reports for a mounted filesystem.
func fsSize(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks) * st.Bsize
}

func strs(ss ...string) cty.Value {
	if len(ss) == 0 {
		return cty.SetValEmpty(cty.String)
	}
	v := make([]cty.Value, len(ss))
	for i, s := range ss {
		v[i] = cty.StringVal(s)
	}
	return cty.SetVal(v)
}

func str(s string) cty.Value { return cty.StringVal(s) }

// errs is the error diagnostics as one error naming them all (hcl's own
// Error() shows only the first), nil when there are none.
func errs(d hcl.Diagnostics) error {
	if !d.HasErrors() {
		return nil
	}
	var parts []string
	for _, x := range d.Errs() {
		parts = append(parts, x.Error())
	}
	return errors.New(strings.Join(parts, "\n"))
}

func mustContain(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not mention %q:\n%v", p, err)
		}
	}
}

// lvsJSON runs lvs with extra arguments and returns its rows.
func lvsJSON(t *testing.T, e *env, args ...string) []map[string]string {
	t.Helper()
	out := e.sh("lvs", append([]string{"--reportformat", "json", "--units", "b", "--nosuffix"}, args...)...)
	var r struct {
		Report []struct {
			LV []map[string]string `json:"lv"`
		} `json:"report"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("lvs output %q: %v", out, err)
	}
	if len(r.Report) == 0 {
		return nil
	}
	return r.Report[0].LV
}
