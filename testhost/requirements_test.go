package testhost

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// fakeHost is a machine with the listed paths, for checkHost.
type fakeHost struct {
	goos    string
	euid    int
	paths   map[string]bool
	release string
	dep     string
}

func (h fakeHost) facts() hostFacts {
	return hostFacts{
		goos:   h.goos,
		euid:   h.euid,
		exists: func(p string) bool { return h.paths[p] },
		release: func() (string, error) {
			if h.release == "" {
				return "", errors.New("exec format error")
			}
			return h.release, nil
		},
		readFile: func(p string) ([]byte, error) {
			if p == "/usr/lib/uml/modules/6.1.176/modules.dep" && h.dep != "" {
				return []byte(h.dep), nil
			}
			return nil, errors.New("no such file")
		},
	}
}

// debianHost has everything the harness needs.
func debianHost() fakeHost {
	paths := map[string]bool{umlKernel: true}
	for _, tl := range harnessTools {
		paths["/usr/sbin/"+tl.names[0]] = true
	}
	return fakeHost{
		goos:    "linux",
		euid:    0,
		paths:   paths,
		release: "6.1.176",
		dep:     "kernel/drivers/md/dm-thin-pool.ko: kernel/drivers/md/dm-mod.ko\n",
	}
}

func TestCheckHost(t *testing.T) {
	tests := []struct {
		name    string
		host    func(h *fakeHost)
		missing []string // substrings, in order
	}{
		{"everything installed, root", func(h *fakeHost) {}, nil},
		{"not root", func(h *fakeHost) { h.euid = 65534 }, []string{"needs root"}},
		{"no UML", func(h *fakeHost) { delete(h.paths, umlKernel) }, []string{"needs user-mode-linux: apt-get install user-mode-linux"}},
		{"not root and no UML", func(h *fakeHost) { h.euid = 1000; delete(h.paths, umlKernel) },
			[]string{"needs root", "needs user-mode-linux: apt-get install user-mode-linux"}},
		{"broken UML", func(h *fakeHost) { h.release = "" }, []string{"needs a working /usr/bin/linux.uml (exec format error)"}},
		{"no modules", func(h *fakeHost) { h.dep = "" }, []string{"needs the UML kernel's modules with dm-thin-pool in /usr/lib/uml/modules/6.1.176"}},
		{"no lvm2, busybox for poweroff", func(h *fakeHost) {
			delete(h.paths, "/usr/sbin/lvm")
			delete(h.paths, "/usr/sbin/poweroff")
			h.paths["/bin/busybox"] = true
		}, []string{"needs lvm2: apt-get install lvm2"}},
		{"no lvm2, no dmsetup", func(h *fakeHost) {
			delete(h.paths, "/usr/sbin/lvm")
			delete(h.paths, "/usr/sbin/dmsetup")
		}, []string{"needs lvm2, dmsetup: apt-get install lvm2 dmsetup"}},
		{"macOS", func(h *fakeHost) { h.goos = "darwin" }, []string{"needs Linux"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := debianHost()
			tt.host(&h)
			cfg, missing := checkHost(h.facts())
			if len(missing) != len(tt.missing) {
				t.Fatalf("missing = %q, want %d entries like %q", missing, len(tt.missing), tt.missing)
			}
			for i, want := range tt.missing {
				if !strings.HasPrefix(missing[i], want) {
					t.Errorf("missing[%d] = %q, want it to start with %q", i, missing[i], want)
				}
			}
			if len(tt.missing) == 0 {
				want := hostRootConfig()
				want.release, want.modules = "6.1.176", "/usr/lib/uml/modules/6.1.176"
				if !reflect.DeepEqual(cfg, want) {
					t.Errorf("config = %+v, want %+v", cfg, want)
				}
			}
		})
	}
}
