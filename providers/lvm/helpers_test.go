package lvm

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/providers/providertest"
	"github.com/rigplan/rigplan/schema"
)

// readTestdata returns a captured file.
func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gunzipTestdata returns a captured, gzipped file.
func gunzipTestdata(t *testing.T, name string) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(readTestdata(t, name)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// capturedRunner answers the three report commands with captured output
// (prefix "" for the populated host, "empty-" for the empty one) and blkid
// from a map of device → captured file (exit status 2, "nothing found",
// for devices not in it). Anything else fails. It records what it ran.
type capturedRunner struct {
	t      *testing.T
	prefix string
	blkid  map[string]string
	// edit, if set, changes a report before it is answered (a captured
	// host turned into one a test needs).
	edit func(name string, out []byte) []byte
	mu   sync.Mutex
	ran  []string
}

func (r *capturedRunner) Run(_ context.Context, c sysexec.Cmd) (sysexec.Result, error) {
	r.mu.Lock()
	r.ran = append(r.ran, c.String())
	r.mu.Unlock()
	switch c.Name {
	case "lvs", "vgs", "pvs":
		out := readTestdata(r.t, r.prefix+c.Name+".json")
		if r.edit != nil {
			out = r.edit(c.Name, out)
		}
		return sysexec.Result{Stdout: out}, nil
	case "blkid":
		dev := c.Args[len(c.Args)-1]
		if f, ok := r.blkid[dev]; ok {
			return sysexec.Result{Stdout: readTestdata(r.t, f)}, nil
		}
		return sysexec.Result{}, &sysexec.Error{Cmd: c, ExitCode: 2, Err: fmt.Errorf("exit status 2")}
	}
	return sysexec.Result{}, &sysexec.Error{Cmd: c, ExitCode: -1, Err: fmt.Errorf("capturedRunner cannot run %s", c.Name)}
}

// fakeHost stands in for /dev: device paths (with aliases, as by-id
// links) and the filesystems found on LVs.
type fakeHost struct {
	devs  map[string]devNum
	links map[string]string
	fs    map[string]string
}

func (h fakeHost) device(path string) (devNum, string, error) {
	resolved := path
	if l, ok := h.links[path]; ok {
		resolved = l
	}
	if n, ok := h.devs[resolved]; ok {
		return n, resolved, nil
	}
	return devNum{}, "", &fs.PathError{Op: "stat", Path: path, Err: fs.ErrNotExist}
}

func (h fakeHost) filesystem(path string) (string, error) { return h.fs[path], nil }

// capturedHost matches the disks and filesystems of the captured host.
func capturedHost() fakeHost {
	return fakeHost{
		devs: map[string]devNum{
			"/dev/ubda": {98, 0}, "/dev/ubdb": {98, 16}, "/dev/ubdc": {98, 32}, "/dev/ubdd": {98, 48}, "/dev/ubde": {98, 64},
		},
		links: map[string]string{"/dev/disk/by-id/disk-a": "/dev/ubda", "/dev/disk/by-id/disk-e": "/dev/ubde"},
		fs:    map[string]string{"/dev/vg0/default": "xfs", "/dev/vg0/node": "btrfs", "/dev/vg0/handmade": "ext4"},
	}
}

// newCaptured is a provider on the captured host.
func newCaptured(t *testing.T) (*Provider, *capturedRunner) {
	run := &capturedRunner{t: t, blkid: map[string]string{"/dev/ubde": "blkid-ext4.txt"}}
	p := New(run, Options{})
	p.host = capturedHost()
	return p, run
}

func mustAddr(t *testing.T, s string) schema.Address {
	t.Helper()
	a, err := schema.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// configOf builds a config value of a resource type from the attributes
// given, with schema defaults for the others and computed ones null.
func configOf(t *testing.T, p *Provider, typ string, attrs map[string]cty.Value) cty.Value {
	t.Helper()
	return providertest.ConfigOf(t, p.schemas[typ], attrs)
}

func strSet(ss ...string) cty.Value { return stringSet(ss) }
