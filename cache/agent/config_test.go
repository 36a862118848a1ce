package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/retention"
	"github.com/rigplan/rigplan/internal/sysexec"
)

func TestConfigDefaults(t *testing.T) {
	c, err := Config{Machines: map[string][]string{"runner-1": {"/home/runner/cache"}}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Socket != "/run/rigplan-cache/machines/socket" || c.StateDir != "/run/rigplan/cache/cache" || c.Commit != CommitOnExit ||
		c.ReadTimeout != DefaultReadTimeout || c.MaxCreates != DefaultMaxCreates || c.Limits.MaxBytes != 64<<10 ||
		c.RetentionInterval != time.Minute || c.SocketDirMode != 0o755 {
		t.Errorf("defaults: %+v", c)
	}
}

func TestConfigErrors(t *testing.T) {
	ok := map[string][]string{"m": {"/home/runner"}}
	for _, tt := range []struct {
		c    Config
		want string
	}{
		{Config{}, "no machines are declared"},
		{Config{Machines: map[string][]string{"m": nil}}, `machine "m" has no allowed mount prefixes`},
		{Config{Machines: map[string][]string{"m": {"home/runner"}}}, `allowed prefix "home/runner"`},
		{Config{Machines: map[string][]string{"m": {"/"}}}, `allowed prefix "/"`},
		{Config{Machines: map[string][]string{"m": {"/a/../b"}}}, "clean path"},
		{Config{Machines: ok, Commit: "sometimes"}, `commit policy "sometimes"`},
		{Config{Machines: ok, Socket: "socket"}, `socket "socket": want an absolute`},
		// Staging mounts must not be where machines see them.
		{Config{Machines: ok, Socket: "/run/rigplan-cache/socket", StateDir: "/run/rigplan-cache/state"}, "overlap"},
		{Config{Machines: ok, Retention: retention.Policy{DataHigh: 50, DataLow: 60}}, "retention: data low watermark"},
	} {
		_, err := tt.c.withDefaults()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.c, err, tt.want)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "agent.json")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f, err := LoadFile(write(`{
	  "name": "ci",
	  "socket": "/run/ci-cache/socket",
	  "socket_dir_mode": "0750",
	  "store": {"type": "lvm", "default": "vg0/cache-default", "namespace": "friend", "mount_options": ["discard"]},
	  "machines": {"runner-1": ["/home/runner/cache"], "runner-2": ["/cache", "/home/runner/cache"]},
	  "commit": "on-save",
	  "retention": {"keep_per_set": 3, "max_age": "168h", "data_high_percent": 90, "data_low_percent": 80, "interval": "30s"},
	  "limits": {"max_request_bytes": 8192, "read_timeout": "5s", "max_concurrent_creates": 2, "seal_wait": "1m"}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "ci" || c.StateDir != "/run/rigplan/cache/ci" || c.SocketDirMode != 0o750 || c.Commit != CommitOnSave ||
		c.Retention != (retention.Policy{KeepPerSet: 3, MaxAge: 168 * time.Hour, DataHigh: 90, DataLow: 80}) ||
		c.RetentionInterval != 30*time.Second || c.Limits.MaxBytes != 8192 || c.ReadTimeout != 5*time.Second ||
		c.MaxCreates != 2 || c.SealWait != time.Minute || len(c.Machines["runner-2"]) != 2 {
		t.Errorf("config: %+v", c)
	}
	// The lvm store is built without running anything.
	if s, err := f.OpenStore(sysexec.Host{}); err != nil || s.Term("a") != "a" {
		t.Errorf("OpenStore: %v", err)
	}

	for _, tt := range []struct{ file, want string }{
		{`{"machines": {}, "sokcet": "/x"}`, `unknown field "sokcet"`},
		{`{"retention": {"max_age": 7}}`, `want a duration string`},
		{`{"retention": {"max_age": "a week"}}`, `invalid duration`},
		{`{} {}`, "more than one JSON value"},
	} {
		if _, err := LoadFile(write(tt.file)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("LoadFile(%s) = %v, want %q", tt.file, err, tt.want)
		}
	}
	for _, tt := range []struct {
		f    FileConfig
		want string
	}{
		{FileConfig{Store: StoreFile{Type: "zfs"}}, `store.type "zfs"`},
		{FileConfig{}, "store.type is missing"},
		{FileConfig{Store: StoreFile{Type: "lvm", Default: "vg/lv", Dir: "/x"}}, "store.dir and store.quota are for the btrfs store"},
		{FileConfig{Store: StoreFile{Type: "lvm", Default: "vg/lv", Quota: 1 << 30}}, "bounded by the default volume's size"},
		{FileConfig{Store: StoreFile{Type: "btrfs", Namespace: "x"}}, "are for the lvm store"},
		{FileConfig{Store: StoreFile{Type: "lvm", Default: "nolv"}}, "want VG/LV"},
	} {
		if _, err := tt.f.OpenStore(sysexec.Host{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("OpenStore(%+v) = %v, want %q", tt.f.Store, err, tt.want)
		}
	}
	if _, err := (FileConfig{SocketDirMode: "rwx", Machines: map[string][]string{"m": {"/c"}}}).Config(); err == nil || !strings.Contains(err.Error(), "octal mode") {
		t.Errorf("bad socket_dir_mode: %v", err)
	}
}

func TestMountIDMatches(t *testing.T) {
	lv := mountID{major: 253, minor: 4, root: "/"}
	sub := mountID{major: 0, minor: 38, root: "/snaps/cache-1"}
	for _, tt := range []struct {
		id   mountID
		e    inject.MountEntry
		want bool
	}{
		{lv, inject.MountEntry{Major: 253, Minor: 4, Root: "/"}, true},
		{lv, inject.MountEntry{Major: 253, Minor: 4, Root: "/sub"}, true}, // a bind of a directory in it
		{lv, inject.MountEntry{Major: 253, Minor: 5, Root: "/"}, false},
		{sub, inject.MountEntry{Major: 0, Minor: 38, Root: "/snaps/cache-1"}, true},
		{sub, inject.MountEntry{Major: 0, Minor: 38, Root: "/snaps/cache-1/deps"}, true},
		{sub, inject.MountEntry{Major: 0, Minor: 38, Root: "/snaps/cache-10"}, false}, // a name that starts the same
		{sub, inject.MountEntry{Major: 0, Minor: 38, Root: "/"}, false},               // the whole filesystem
		{mountID{}, inject.MountEntry{Root: "/"}, false},
	} {
		if got := tt.id.matches(tt.e); got != tt.want {
			t.Errorf("%v matches %+v = %v, want %v", tt.id, tt.e, got, tt.want)
		}
	}
}
