package storetest

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// nobody is the host user the setuid check runs as.
const nobody = "65534"

// noPrivilege checks that a cache carries no privilege into the host: a
// job writes anything into its snapshot, setuid-root binaries and device
// nodes included, and the agent mounts it on the host (Mount) before
// cloning that mount into the machine. The host mount must be nosuid and
// nodev, so that nothing a job wrote raises a host user's euid or opens
// a host device.
func (s *suite) noPrivilege(t *testing.T) {
	s.create(t, s.Default, "st-privilege")
	dir := s.mount(t, "st-privilege")

	opts := mountOptions(t, dir)
	for _, want := range []string{"nosuid", "nodev"} {
		if !slices.Contains(opts, want) {
			t.Errorf("the snapshot's host mount at %s has options %q, want %s among them", dir, strings.Join(opts, ","), want)
		}
	}

	// A device node for /dev/zero's device (char 1:5): on a nodev mount,
	// even root cannot open it.
	dev := filepath.Join(dir, "zero")
	if err := unix.Mknod(dev, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
		t.Fatalf("write a device node into the snapshot: %v", err)
	}
	if f, err := os.Open(dev); err == nil {
		f.Close()
		t.Errorf("a device node written into the snapshot opens on the host mount %s", dir)
	} else if !errors.Is(err, unix.EACCES) {
		t.Errorf("opening a device node on the host mount: %v, want EACCES (nodev)", err)
	}

	s.setuidInert(t, dir)
	s.unmount(t, dir)
}

// setuidInert runs a setuid-root copy of id(1), written into the mounted
// snapshot at dir, as the host user nobody, and checks that it prints
// nobody's euid, not root's.
func (s *suite) setuidInert(t *testing.T, dir string) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) is not installed: cannot run a setuid file as another user")
	}
	id, err := exec.LookPath("id")
	if err != nil {
		t.Skip("id (coreutils) is not installed: no binary to make setuid")
	}
	suid := filepath.Join(dir, "suid-id")
	copyFile(t, id, suid)
	if err := os.Chown(suid, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(suid, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(suid); err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Fatalf("the copy of id in the snapshot is not setuid: %v, %v", fi, err)
	}
	// Run it through /proc/self/fd: the mount is under test directories
	// only root may enter, and executing the open file needs no path to
	// it while still honouring (or not) its mount's nosuid.
	f, err := os.Open(suid)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(setpriv, "--reuid="+nobody, "--regid="+nobody, "--clear-groups", "/proc/self/fd/3", "-u")
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run the setuid file as uid %s: %v\n%s", nobody, err, out)
	}
	if euid := strings.TrimSpace(string(out)); euid != nobody {
		t.Errorf("a setuid-root file in the snapshot, run by uid %s from the host mount, has euid %s", nobody, euid)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// mountOptions returns the per-mount options (mountinfo's sixth field:
// rw, nosuid, nodev, …) of the topmost mount at dir.
func mountOptions(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var opts []string
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 5 && unescapeMountinfo(fields[4]) == dir {
			opts, found = strings.Split(fields[5], ","), true // later lines are mounted on top
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("%s is not a mount point in /proc/self/mountinfo", dir)
	}
	return opts
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }
