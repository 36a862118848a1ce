package cache

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/rigplan/rigplan/providers/providertest"
)

func TestValidConfigsDecodeWithoutDiagnostics(t *testing.T) {
	p := New(nil, Options{})
	for name, src := range map[string]string{"btrfs": btrfsCache, "lvm": lvmCache} {
		if _, diags := providertest.Decode(p, ci, src); len(diags) > 0 {
			t.Errorf("%s: %v", name, diags)
		}
	}
}

// TestValidationErrors checks that each mistake is refused with a message
// that says what is wrong, pointing at the attribute.
func TestValidationErrors(t *testing.T) {
	const store = `btrfs_store {
    directory         = "/srv/cache/snapshots"
    default_subvolume = "/srv/cache/default"
  }`
	const machines = `machines = { "runner-1" = ["/home/runner/cache"] }`
	block := func(body string) string { return "cache \"ci\" {\n  " + body + "\n}\n" }
	tests := []struct {
		name, src, want string
		line            int // of the diagnostic's subject; 0: not checked
	}{
		{"relative prefix", block(store + `
  machines = { "runner-1" = ["home/runner/cache"] }`), `"home/runner/cache" is not absolute`, 6},
		{"unclean prefix", block(store + `
  machines = { "runner-1" = ["/home/runner/../cache"] }`), "write /home/cache", 6},
		{"prefix is /", block(store + `
  machines = { "runner-1" = ["/"] }`), "may not be / itself", 0},
		{"no machines", block(store + `
  machines = {}`), "no machines are declared", 0},
		{"machine without prefixes", block(store + `
  machines = { "runner-1" = [] }`), `machine "runner-1" has no mount prefixes`, 0},
		{"bad machine name", block(store + `
  machines = { "runner 1" = ["/cache"] }`), "systemd machine names use letters", 0},
		{"missing machines", block(store), `"machines" is required`, 0},
		{"relative socket", block(store + "\n  " + machines + `
  socket = "run/x/socket"`), "is not absolute", 7},
		{"socket too long", block(store + "\n  " + machines + `
  socket = "/run/` + strings.Repeat("x", 100) + `/socket"`), "at most 107", 0},
		{"socket in /", block(store + "\n  " + machines + `
  socket = "/socket"`), "is directly in /", 0},
		{"socket in the state root", block(store + "\n  " + machines + `
  socket = "/run/rigplan/cache/ci.sock"`), "overlaps the agent's state", 7},
		{"socket above the state root", block(store + "\n  " + machines + `
  socket = "/run/rigplan/socket"`), "overlaps the agent's state", 0},
		{"bad mode", block(store + "\n  " + machines + `
  socket_directory_mode = "0999"`), "octal", 0},
		{"bad commit", block(store + "\n  " + machines + `
  commit = "never"`), `"never" is not one of on-exit, on-save`, 0},
		{"executable with a space", block(store + "\n  " + machines + `
  executable = "/opt/my tools/rigplan"`), "ExecStart= would interpret", 0},
		{"relative executable", block(store + "\n  " + machines + `
  executable = "rigplan"`), "is not absolute", 0},
		{"no store", block(machines), "Missing store", 0},
		{"two stores", block(store + "\n  " + machines + `
  lvm_store { default_volume = "vg0/default" }`), "Two stores", 0},
		{"default volume without group", block(machines + `
  lvm_store { default_volume = "default" }`), "want VG/LV", 0},
		{"reserved LV name", block(machines + `
  lvm_store { default_volume = "vg0/snapshot1" }`), "reserves names starting with", 0},
		{"bad namespace", block(machines + `
  lvm_store {
    default_volume = "vg0/default"
    tag_namespace  = "1friend"
  }`), "tag namespace", 0},
		{"mount option with a comma", block(machines + `
  lvm_store {
    default_volume = "vg0/default"
    mount_options  = ["discard,noatime"]
  }`), "without commas", 0},
		{"default subvolume name", block(machines + `
  btrfs_store {
    directory         = "/srv/cache/snapshots"
    default_subvolume = "/srv/cache/.default"
  }`), "its base name is its name in the cache", 0},
		{"low above high", block(store + "\n  " + machines + `
  retention {
    data_high_percent = 80
    data_low_percent  = 90
  }`), "The low mark (90%) must be below the high mark (80%)", 0},
		{"low without high", block(store + "\n  " + machines + `
  retention {
    metadata_high_percent = 0
  }`), "then the low mark must be 0 too", 0},
		{"percent over 100", block(store + "\n  " + machines + `
  retention { data_high_percent = 120 }`), "not a percentage", 0},
		{"fractional count", block(store + "\n  " + machines + `
  retention { keep_per_set = 1.5 }`), "1.5 is not a whole number", 0},
		{"bad duration", block(store + "\n  " + machines + `
  retention { max_age = "a week" }`), `"a week" is not a positive duration`, 0},
		{"zero timeout", block(store + "\n  " + machines + `
  limits { read_timeout = "0s" }`), "is not a positive duration", 0},
		{"off where it cannot be", block(store + "\n  " + machines + `
  limits { seal_wait = "off" }`), `"off" is not a positive duration such as "90s", "10m" or "168h"`, 0},
		{"zero connections", block(store + "\n  " + machines + `
  limits { max_connections = 0 }`), "not a whole number from 1", 0},
	}
	p := New(nil, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := providertest.Decode(p, ci, tt.src)
			if !diags.HasErrors() {
				t.Fatalf("accepted:\n%s", tt.src)
			}
			var found *hcl.Diagnostic
			for _, d := range diags {
				if d.Severity == hcl.DiagError && strings.Contains(d.Summary+" "+d.Detail, tt.want) {
					found = d
				}
			}
			if found == nil {
				t.Fatalf("no error saying %q: %v", tt.want, diags)
			}
			if tt.line > 0 && (found.Subject == nil || found.Subject.Start.Line != tt.line) {
				t.Errorf("error points at %v, want line %d", found.Subject, tt.line)
			}
		})
	}
}

func TestSocketDirectoryModeWarning(t *testing.T) {
	src := strings.Replace(btrfsCache, "machines", "socket_directory_mode = \"0750\"\n  machines", 1)
	_, diags := providertest.Decode(New(nil, Options{}), ci, src)
	if diags.HasErrors() || !hasDiag(diags, hcl.DiagWarning, "Machines cannot reach the socket") {
		t.Errorf("want only a warning: %v", diags)
	}
}

func TestDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{
		2 * time.Minute: "2m", 168 * time.Hour: "168h", 90 * time.Second: "1m30s", time.Hour + 30*time.Minute: "1h30m",
		10 * time.Second: "10s", 1500 * time.Millisecond: "1.5s", 0: "0s",
	} {
		got := formatDuration(d)
		if got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
		if d > 0 {
			if back, err := parseDuration(got, false); err != nil || back != d {
				t.Errorf("parseDuration(%q) = %v, %v", got, back, err)
			}
		}
	}
	if d, err := parseDuration(off, true); err != nil || d != 0 {
		t.Errorf("off: %v %v", d, err)
	}
	for _, bad := range []string{"off", "-1s", "0", "soon"} {
		if _, err := parseDuration(bad, false); err == nil {
			t.Errorf("parseDuration(%q) accepted", bad)
		}
	}
}

func TestInstanceName(t *testing.T) {
	tests := []struct {
		addr string
		want string
	}{
		{`cache.ci`, "ci"},
		{`cache.ci[2]`, "ci-2"},
		{`cache.ci["arm64"]`, "ci-arm64"},
		{`cache.ci["a_b-c"]`, "ci-a_b-c"},
	}
	for _, tt := range tests {
		a := mustAddr(t, tt.addr)
		if got, err := instanceName(a); err != nil || got != tt.want {
			t.Errorf("instanceName(%s) = %q, %v; want %q", tt.addr, got, err, tt.want)
		}
	}
	for _, bad := range []string{`cache.ci["a/b"]`, `cache.ci["a.b"]`, `cache.ci["ü"]`, `cache.ci["` + strings.Repeat("x", 70) + `"]`} {
		if got, err := instanceName(mustAddr(t, bad)); err == nil {
			t.Errorf("instanceName(%s) = %q, want an error", bad, got)
		}
	}
}
