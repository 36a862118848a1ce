package testhost

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/internal/sysexec"
)

func TestSystemdKernelArgs(t *testing.T) {
	cfg := systemdConfig()
	cfg.root = "/var/cache/rigplan/testhost-systemd-0123"
	got := cfg.kernelArgs(bootDir("/tmp/b"), "rigplan-0123")
	for _, want := range []string{
		"rootflags=/var/cache/rigplan/testhost-systemd-0123", "ro",
		"init=" + stage0Path,
		"rigplan.testhost.dir=/tmp/b",
		"rigplan.testhost=rigplan-0123",
		"ssl0=null,fd:3",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("kernel args lack %q: %q", want, got)
		}
	}
	if slices.Contains(got, "rw") {
		t.Errorf("kernel args mount the cached root read-write: %q", got)
	}
}

// The first init is in the cached root; what it mounts must be where the
// harness expects it.
func TestStage0(t *testing.T) {
	for _, want := range []string{cmdlineBootDir + "=", systemdBootMount, "exec /bin/sh " + systemdBootMount + "/init.sh"} {
		if !strings.Contains(stage0, want) {
			t.Errorf("systemd-stage0.sh lacks %q", want)
		}
	}
	shellSyntax(t, []byte(stage0))
}

func TestCheckSystemdHost(t *testing.T) {
	root := systemdRecipe("6.1.176", "/usr/lib/uml/modules/6.1.176").rootDir("/var/cache/rigplan")
	tests := []struct {
		name    string
		host    func(h *fakeHost)
		cache   string
		missing []string
	}{
		{"root not built, debootstrap installed", func(h *fakeHost) { h.paths["/usr/sbin/debootstrap"] = true }, "", nil},
		{"root built, no debootstrap", func(h *fakeHost) { h.paths[root] = true }, "", nil},
		{"root not built, no debootstrap", func(h *fakeHost) {}, "", []string{"needs debootstrap (to build the test host's root, once): apt-get install debootstrap"}},
		{"no UML", func(h *fakeHost) { delete(h.paths, umlKernel); h.paths["/usr/sbin/debootstrap"] = true }, "",
			[]string{"needs user-mode-linux: apt-get install user-mode-linux"}},
		{"not root, no UML, no debootstrap", func(h *fakeHost) { h.euid = 1000; delete(h.paths, umlKernel) }, "",
			[]string{"needs root", "needs user-mode-linux"}},
		{"cache path with a comma", func(h *fakeHost) { h.paths["/usr/sbin/debootstrap"] = true }, "/var/cache/a,b",
			[]string{`needs a test host cache directory without ","`}},
		// The host-root flavour's tools come from the cached root here.
		{"no lvm2 on the host", func(h *fakeHost) { delete(h.paths, "/usr/sbin/lvm"); h.paths[root] = true }, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := debianHost()
			tt.host(&h)
			cache := tt.cache
			if cache == "" {
				cache = "/var/cache/rigplan"
			}
			cfg, missing := checkSystemdHost(h.facts(), cache)
			if len(missing) != len(tt.missing) {
				t.Fatalf("missing = %q, want %d entries like %q", missing, len(tt.missing), tt.missing)
			}
			for i, want := range tt.missing {
				if !strings.HasPrefix(missing[i], want) {
					t.Errorf("missing[%d] = %q, want it to start with %q", i, missing[i], want)
				}
			}
			if len(tt.missing) == 0 {
				want := systemdConfig()
				want.release, want.modules, want.root = "6.1.176", "/usr/lib/uml/modules/6.1.176", root
				if !reflect.DeepEqual(cfg, want) {
					t.Errorf("config = %+v, want %+v", cfg, want)
				}
			}
		})
	}
}

func TestHostDirs(t *testing.T) {
	for _, tt := range []struct {
		binary, dir string
		want        []string
		err         string
	}{
		{"/tmp/go-build1/b001/x.test", "/work/main/testhost/systemdtest", []string{"/tmp/go-build1/b001", "/work/main/testhost/systemdtest"}, ""},
		{"/work/main/x.test", "/work/main/sub", []string{"/work/main"}, ""},
		{"/work/main/sub/x.test", "/work/main", []string{"/work/main"}, ""},
		{"/work/mainly/x.test", "/work/main", []string{"/work/main", "/work/mainly"}, ""},
		{"/tmp/b/x.test", "/", nil, "whose own / is there"},
		{"/run/user/0/x.test", "/work", nil, "whose own /run is there"},
		{"/tmp/a,b/x.test", "/work", nil, "contains ','"},
	} {
		got, err := hostDirs(runSpec{argv: []string{tt.binary}, dir: tt.dir})
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("hostDirs(%s, %s) = %q, %v; want an error with %q", tt.binary, tt.dir, got, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("hostDirs(%s, %s) = %q, %v; want %q", tt.binary, tt.dir, got, err, tt.want)
		}
	}
}

func TestRenderSystemdInit(t *testing.T) {
	cfg := systemdConfig()
	cfg.release, cfg.modules, cfg.root = "6.1.176", "/usr/lib/uml/modules/6.1.176", "/var/cache/rigplan/testhost-systemd-0123"
	spec := runSpec{
		argv: []string{"/tmp/go-build1/b001/systemdtest.test", "-test.v=test2json"},
		dir:  "/work/main/testhost/systemdtest",
		env:  []string{"PATH=/usr/bin", "QUOTE=it's $x"},
	}
	script, err := renderInit(cfg, bootDir("/tmp/b"), spec, "rigplan-t")
	if err != nil {
		t.Fatal(err)
	}
	s := string(script)
	for _, want := range []string{
		"#!/bin/sh\n",
		`mount -t overlay overlay -o lowerdir=/,upperdir=/mnt/upper,workdir=/mnt/work "$new"`,
		`for dir in '/tmp/go-build1/b001' '/work/main/testhost/systemdtest'; do`,
		`must mount -t hostfs -o "$dir" none "$new$dir"`,
		"use_mlockall = 1",
		`printf '%s\n' 'dm-thin-pool' 'dm-snapshot' 'dm-zero' 'loop' 'overlay' >/run/modules-load.d/`,
		"ExecStart=/bin/sh /run/testhost/tests.sh",
		"After=multi-user.target",
		"SuccessAction=poweroff-force",
		`(cd '/work/main/testhost/systemdtest' && exec env -i 'QUOTE=it'\''s $x' 'PATH=/run/testhost/bin:/usr/bin:`,
		`'/tmp/go-build1/b001/systemdtest.test' '-test.v=test2json') </dev/null >'/dev/ttyS0' 2>&1 9>&-`,
		`echo "$code" >'/run/testhost/boot/exit'`,
		`: >'/run/testhost/boot/started'`,
		"must pivot_root . mnt",
		"/lib/systemd/systemd --unit=rigplan-testhost.target",
		markTestsStart[len("testhost-init: "):],
		markTestsEnd[len("testhost-init: "):],
	} {
		if !strings.Contains(s, want) {
			t.Errorf("systemd init script lacks %q", want)
		}
	}
	shellSyntax(t, script)
}

// shellSyntax fails the test unless script is valid shell.
func shellSyntax(t *testing.T, script []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "script.sh")
	if err := os.WriteFile(path, script, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := (sysexec.Host{}).Run(context.Background(), sysexec.Cmd{Name: "sh", Args: []string{"-n", path}, Timeout: 10 * time.Second}); err != nil {
		t.Errorf("sh -n: %v\n%s", err, script)
	}
}

// A boot whose PID 1 never starts the tests is ended after startTimeout,
// long before the guard; one that started them is left to run past it.
func TestBootEndsWhenTheTestsNeverStart(t *testing.T) {
	cfg := fakeKernel(t, `echo "systemd[1]: Freezing execution."; sleep 300`)
	cfg.startTimeout = 300 * time.Millisecond
	code, err := boot(context.Background(), cfg, testSpec(10*time.Minute), &bytes.Buffer{})
	if code == 0 || err == nil || !strings.Contains(err.Error(), "had not started the tests 300ms after it was started") ||
		!strings.Contains(err.Error(), "Freezing execution") {
		t.Errorf("boot = %d, %v", code, err)
	}

	cfg = fakeKernel(t, `: >"$d/started"; sleep 1; printf 'ok\n' >&3; echo 0 >"$d/exit"`)
	cfg.startTimeout = 300 * time.Millisecond
	var out bytes.Buffer
	if code, err := boot(context.Background(), cfg, testSpec(10*time.Minute), &out); code != 0 || err != nil || out.String() != "ok\n" {
		t.Errorf("boot of tests that started = %d, %v, output %q", code, err, out.String())
	}
}
