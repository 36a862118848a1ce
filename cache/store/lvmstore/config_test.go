package lvmstore

import (
	"strings"
	"testing"
)

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no default", Config{}, "want VG/LV"},
		{"no slash", Config{Default: "vg0"}, "want VG/LV"},
		{"two slashes", Config{Default: "vg0/a/b"}, "want VG/LV"},
		{"bad VG", Config{Default: "-vg/lv"}, "not allowed by LVM"},
		{"reserved LV", Config{Default: "vg/x_tmeta"}, "reserves"},
		{"reserved prefix", Config{Default: "vg/snapshot1"}, "reserves"},
		{"namespace with colon", Config{Default: "vg/lv", Namespace: "a:b"}, "not allowed"},
		{"namespace too long", Config{Default: "vg/lv", Namespace: strings.Repeat("n", MaxNamespaceLen+1)}, "want 1 to"},
		{"namespace starting with a digit", Config{Default: "vg/lv", Namespace: "1x"}, "not allowed"},
		{"mount option with a comma", Config{Default: "vg/lv", MountOptions: []string{"discard,ro"}}, "one option"},
		{"suid, against the store's nosuid", Config{Default: "vg/lv", MountOptions: []string{"discard", "suid"}}, "nosuid,nodev"},
		{"a mount flag the filesystem would refuse", Config{Default: "vg/lv", MountOptions: []string{"noatime"}}, "not a filesystem option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(nil, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New(%+v) = %v, want an error mentioning %q", tt.cfg, err, tt.want)
			}
		})
	}
	s, err := New(nil, Config{Default: "vg0/cache-default"})
	if err != nil || s.Namespace() != DefaultNamespace || s.defID() != "vg0/cache-default" {
		t.Errorf("New with defaults = %+v, %v", s, err)
	}
}
