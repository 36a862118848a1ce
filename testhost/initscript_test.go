package testhost

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/internal/sysexec"
)

func TestShellQuoteRoundTrip(t *testing.T) {
	words := []string{"", "plain", "with space", "it's", `"double"`, "$HOME", "`id`", "back\\slash", "new\nline", "tab\there", "ünïcode", "'''", "-n"}
	script := "for w in " + shellQuoteAll(words) + `; do printf '%s\0' "$w"; done`
	res, err := sysexec.Host{}.Run(context.Background(), sysexec.Cmd{Name: "sh", Args: []string{"-c", script}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(res.Stdout), "\x00"), "\x00")
	if !slices.Equal(got, words) {
		t.Errorf("through sh:\n%q\nwant\n%q", got, words)
	}
}

func TestInnerEnv(t *testing.T) {
	outer := []string{
		"HOME=/home/dev", "PATH=/usr/local/go/bin:/usr/bin", "TMPDIR=/var/tmp",
		"GOFLAGS=-mod=mod", "WEIRD=a=b", envBoot + "=stale", "DM_DISABLE_UDEV=0",
	}
	deadline := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	got := innerEnv(outer, "rigplan-t", []string{"/dev/ubda", "/dev/ubdb"}, deadline)
	want := []string{
		"GOFLAGS=-mod=mod", "WEIRD=a=b",
		"PATH=/run/testhost/bin:/usr/local/go/bin:/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/sbin:/bin",
		"HOME=/home/dev",
		"TMPDIR=/run/testhost/tmp",
		"DM_DISABLE_UDEV=1",
		envBoot + "=rigplan-t",
		envDisks + "=/dev/ubda,/dev/ubdb",
		envDeadline + "=2026-01-02T03:04:05.0000006Z",
	}
	if !slices.Equal(got, want) {
		t.Errorf("innerEnv =\n%q\nwant\n%q", got, want)
	}
	got = innerEnv(nil, "t", nil, time.Time{})
	if !slices.Contains(got, "HOME=/root") {
		t.Errorf("innerEnv without HOME = %q, want HOME=/root", got)
	}
	if slices.ContainsFunc(got, func(kv string) bool { return strings.HasPrefix(kv, envDeadline) }) {
		t.Errorf("innerEnv without a timeout = %q, want no %s", got, envDeadline)
	}
}

func TestRenderInit(t *testing.T) {
	cfg := hostRootConfig()
	cfg.release, cfg.modules = "6.1.176", "/usr/lib/uml/modules/6.1.176"
	spec := runSpec{
		argv: []string{"/tmp/go-build1/b001/lvm.test", "-test.run=^TestA$|B", "-test.v=test2json"},
		dir:  "/work/main/providers/lvm",
		env:  []string{"PATH=/usr/bin", "QUOTE=it's $x"},
	}
	script, err := renderInit(cfg, bootDir("/tmp/b"), spec, "rigplan-t")
	if err != nil {
		t.Fatal(err)
	}
	s := string(script)
	for _, want := range []string{
		"#!/bin/sh\n",
		"mount -t tmpfs -o mode=0755 tmpfs /run",
		`mount --bind "$run/etc-lvm" /etc/lvm`,
		`mount --bind '/usr/lib/uml/modules/6.1.176' "$run/modroot/lib/modules/"'6.1.176'`,
		`for m in 'dm-thin-pool' 'dm-snapshot' 'dm-zero' 'loop' 'overlay'; do`,
		`(cd '/work/main/providers/lvm' && exec env -i 'QUOTE=it'\''s $x' 'PATH=/run/testhost/bin:/usr/bin:`,
		`'/tmp/go-build1/b001/lvm.test' '-test.run=^TestA$|B' '-test.v=test2json') </dev/null >'/dev/ttyS0' 2>&1 9>&-`,
		`>'/tmp/b/exit'`,
		"poweroff -f",
		markTestsStart[len("testhost-init: "):],
		markTestsEnd[len("testhost-init: "):],
	} {
		if !strings.Contains(s, want) {
			t.Errorf("init script lacks %q", want)
		}
	}
	// It must at least be valid shell.
	path := filepath.Join(t.TempDir(), "init.sh")
	if err := os.WriteFile(path, script, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := (sysexec.Host{}).Run(context.Background(), sysexec.Cmd{Name: "sh", Args: []string{"-n", path}, Timeout: 10 * time.Second}); err != nil {
		t.Errorf("sh -n: %v\n%s", err, script)
	}
}

func TestRenderInitRefusesEqualsInBinaryPath(t *testing.T) {
	_, err := renderInit(hostRootConfig(), bootDir("/tmp/b"), runSpec{argv: []string{"/tmp/a=b/x.test"}}, "t")
	if err == nil {
		t.Error("renderInit accepted a binary path with '='")
	}
}
