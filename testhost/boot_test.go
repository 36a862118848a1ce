package testhost

import (
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestKernelArgs(t *testing.T) {
	cfg := hostRootConfig()
	got := cfg.kernelArgs(bootDir("/tmp/b"), "rigplan-0123")
	want := []string{
		"mem=1G", "rootfstype=hostfs", "rootflags=/", "rw",
		"init=/tmp/b/init.sh",
		"con=null", "con0=null,fd:1", "printk.time=1",
		"ssl=null", "ssl0=null,fd:3",
		"uml_dir=/tmp/b/uml", "umid=rigplan-0123",
		"rigplan.testhost=rigplan-0123",
		"ubd0=/tmp/b/disk0.img", "ubd1=/tmp/b/disk1.img", "ubd2=/tmp/b/disk2.img", "ubd3=/tmp/b/disk3.img",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kernelArgs =\n%q\nwant\n%q", got, want)
	}

	// The systemd flavour will boot another root with another init.
	cfg.root, cfg.init = "/var/cache/rigplan/host", "/lib/systemd/systemd"
	got = cfg.kernelArgs(bootDir("/tmp/b"), "t")
	if got[2] != "rootflags=/var/cache/rigplan/host" || got[4] != "init=/lib/systemd/systemd" {
		t.Errorf("kernelArgs with another root and init = %q", got)
	}
}

func TestDiskDevices(t *testing.T) {
	want := []string{"/dev/ubda", "/dev/ubdb", "/dev/ubdc", "/dev/ubdd"}
	if got := hostRootConfig().diskDevices(); !reflect.DeepEqual(got, want) {
		t.Errorf("diskDevices = %q, want %q", got, want)
	}
}

func TestBootDirValidate(t *testing.T) {
	for _, dir := range []string{"/tmp/a b", "/tmp/a,b", "/tmp/a:b", "/tmp/a=b"} {
		err := bootDir(dir).validate()
		if err == nil || !strings.Contains(err.Error(), "set TMPDIR to a plain path") {
			t.Errorf("validate(%q) = %v, want an error telling to set TMPDIR", dir, err)
		}
	}
	if err := bootDir("/tmp/rigplan-testhost-123_x.y").validate(); err != nil {
		t.Errorf("validate of a plain path: %v", err)
	}
}

func TestNewBootDirMakesSparseDisks(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	cfg := hostRootConfig()
	d, err := newBootDir(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < cfg.disks; i++ {
		fi, err := os.Stat(d.disk(i))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != 8<<30 {
			t.Errorf("disk %d is %d bytes, want 8 GiB", i, fi.Size())
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Blocks != 0 {
			t.Errorf("disk %d uses %d blocks, want a sparse file", i, st.Blocks)
		}
	}
}
