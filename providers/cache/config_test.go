package cache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/providers/providertest"
)

// TestConfigFileRoundTrip renders each configuration into the agent's
// file, has the agent load it, and reads it back into the same values.
func TestConfigFileRoundTrip(t *testing.T) {
	p := New(nil, Options{})
	quota := strings.Replace(btrfsCache, "default_subvolume", "quota = \"20G\"\n    default_subvolume", 1)
	for name, src := range map[string]string{"btrfs": btrfsCache, "btrfs with a quota": quota, "lvm": lvmCache} {
		t.Run(name, func(t *testing.T) {
			v, diags := providertest.Decode(p, ci, src)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			v = withBlockDefaults(p.schema, v)
			fc, err := fileConfig("ci", v)
			if err != nil {
				t.Fatal(err)
			}
			b, err := renderConfig(fc)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "ci.json")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			// The agent reads what apply writes.
			loaded, err := agent.LoadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := loaded.Config(); err != nil {
				t.Fatalf("the agent refuses the file: %v\n%s", err, b)
			}
			attrs, err := configAttrs(p.schema, loaded)
			if err != nil {
				t.Fatal(err)
			}
			back := keepSpelling(cty.ObjectVal(attrs), v)
			for k, got := range back.AsValueMap() {
				if want := v.GetAttr(k); !got.RawEquals(want) {
					t.Errorf("%s: read back %#v, configured %#v", k, got, want)
				}
			}
		})
	}
}

// TestConfigFileMeaning checks that values reach the agent as meant:
// "off", fractional percentages, durations.
func TestConfigFileMeaning(t *testing.T) {
	p := New(nil, Options{})
	v, _ := providertest.Decode(p, ci, lvmCache)
	fc, err := fileConfig("ci", withBlockDefaults(p.schema, v))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := fc.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RetentionInterval >= 0 || cfg.Retention.MaxAge != 0 || cfg.Retention.DataHigh != 85.5 || cfg.Retention.KeepPerSet != 2 ||
		cfg.RequestTimeout != 90*time.Minute || cfg.WriteTimeout != 90*time.Second || cfg.Limits.MaxBytes != 4096 ||
		cfg.Commit != agent.CommitOnSave || cfg.SocketDirMode != 0o711 || cfg.Socket != "/run/ci-cache/socket" || len(cfg.Machines["runner-1"]) != 2 {
		t.Errorf("agent configuration: %+v", cfg)
	}
	if fc.Store.Type != "lvm" || fc.Store.Default != "banana/friend-default" || fc.Store.Namespace != "friend" || fc.Store.MountOptions[0] != "discard" {
		t.Errorf("store: %+v", fc.Store)
	}
}

// TestConfigAttrsOfAMinimalFile reads a file that leaves almost
// everything out as the defaults the agent then uses.
func TestConfigAttrsOfAMinimalFile(t *testing.T) {
	p := New(nil, Options{})
	fc, err := parseConfig([]byte(`{"store": {"type": "lvm", "default": "vg0/default"}, "machines": {"m": ["/c"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := configAttrs(p.schema, fc)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]cty.Value{
		"socket":                cty.StringVal(agent.DefaultSocket),
		"socket_directory_mode": cty.StringVal("0755"),
		"commit":                cty.StringVal("on-exit"),
	}
	for k, w := range want {
		if !attrs[k].RawEquals(w) {
			t.Errorf("%s = %#v, want %#v", k, attrs[k], w)
		}
	}
	r, l := attrs["retention"], attrs["limits"]
	for path, w := range map[string]cty.Value{
		"keep_per_set": cty.NumberIntVal(0), "max_age": cty.StringVal("off"), "interval": cty.StringVal("1m"),
		"data_high_percent": cty.NumberIntVal(0),
	} {
		if got := r.GetAttr(path); !got.RawEquals(w) {
			t.Errorf("retention.%s = %#v, want %#v", path, got, w)
		}
	}
	if got := l.GetAttr("max_request_bytes"); !got.RawEquals(cty.NumberIntVal(protocol.DefaultMaxBytes)) {
		t.Errorf("limits.max_request_bytes = %#v", got)
	}
	if got := l.GetAttr("request_timeout"); !got.RawEquals(cty.StringVal("2m")) {
		t.Errorf("limits.request_timeout = %#v", got)
	}
	if lvm := attrs["lvm_store"]; lvm.GetAttr("tag_namespace").AsString() != "rigplan" || lvm.GetAttr("mount_options").LengthInt() != 0 || !attrs["btrfs_store"].IsNull() {
		t.Errorf("stores: %#v %#v", lvm, attrs["btrfs_store"])
	}
}

func TestParseConfigRefusesWhatTheAgentRefuses(t *testing.T) {
	for _, bad := range []string{
		`{"store": {"type": "lvm"}, "retain": 3}`,
		`{"store": {"type": "lvm"}} {}`,
		`not json`,
	} {
		if _, err := parseConfig([]byte(bad)); err == nil {
			t.Errorf("parseConfig(%s) accepted it", bad)
		}
	}
	fc, _ := parseConfig([]byte(`{"store": {"type": "zfs"}}`))
	if _, err := configAttrs(New(nil, Options{}).schema, fc); err == nil {
		t.Error("store type zfs accepted")
	}
}
