package btrfsstore

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/internal/mountinfo"
)

// A job's root may leave a setuid-root binary and device nodes in its
// cache (root in a machine is uid 0 on disk, through the idmapped
// mount). The agent's staging mount of the snapshot on the host, which it
// then clones into machines, must make them inert: a host user who runs
// the binary keeps its own euid, and the device opens nothing.
func TestStagingMountCarriesNoPrivilege(t *testing.T) {
	s, _ := newStore(t, 1<<30)
	if _, err := s.Create(bg, "default", "job", "m", nil); err != nil {
		t.Fatal(err)
	}
	// What the job's root wrote, straight into the subvolume.
	id, err := os.ReadFile("/usr/bin/id")
	if err != nil {
		t.Skipf("btrfsstore: needs /usr/bin/id (apt-get install coreutils): %v", err)
	}
	if err := os.WriteFile(filepath.Join(s.path("job"), "id"), id, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(filepath.Join(s.path("job"), "id"), 0o4755); err != nil { // os.Chmod would drop the setuid bit
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(s.path("job"), "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}

	dir := openDir(t)
	if err := s.Mount(bg, "job", dir); err != nil {
		t.Fatal(err)
	}
	defer s.Unmount(bg, dir)
	lines, err := mountinfo.Read("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var opts []string
	for _, l := range lines {
		if l.Target == dir {
			opts = strings.Split(l.Options, ",")
		}
	}
	if !slices.Contains(opts, "nosuid") || !slices.Contains(opts, "nodev") {
		t.Errorf("the staging mount at %s has options %q, want nosuid and nodev", dir, opts)
	}
	needTool(t, "setpriv", "util-linux")
	out := sh(t, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", filepath.Join(dir, "id"), "-u")
	if euid := strings.TrimSpace(out); euid != strconv.Itoa(65534) {
		t.Errorf("uid 65534 ran the job's setuid-root binary from the staging mount with euid %s, want 65534", euid)
	}
	f, err := os.OpenFile(filepath.Join(dir, "null"), os.O_WRONLY, 0)
	if err == nil {
		f.Close()
		t.Error("the job's device node opened through the staging mount")
	} else if !errors.Is(err, unix.EACCES) {
		t.Errorf("open the job's device node: %v, want EACCES (nodev)", err)
	}
}

// The snapshots live in Dir on the host, with whatever setuid binaries
// the jobs left in them: a Dir other host users can traverse would hand
// them out. New refuses one, saying why and what to do.
func TestNewRefusesTraversableDirectory(t *testing.T) {
	mnt := loopBtrfs(t, 1<<30)
	def := filepath.Join(mnt, "default")
	sh(t, "btrfs", "subvolume", "create", def)
	tests := []struct {
		name     string
		mode     os.FileMode
		uid, gid int
		acl      bool // an access ACL lets uid 65534 enter
		ok       bool
		want     []string
	}{
		{"root-only", 0o700, 0, 0, false, true, nil},
		{"root group may enter", 0o750, 0, 0, false, true, nil},
		{"others may enter", 0o701, 0, 0, false, false, []string{"0701", "chmod 0700"}},
		{"world-readable", 0o755, 0, 0, false, false, []string{"0755", "chmod 0700"}},
		{"another group may enter", 0o710, 0, 100, false, false, []string{"0710", "group 100", "chmod 0700"}},
		{"owned by a user", 0o700, jobUID, 0, false, false, []string{"owned by uid 1000", "chown root:root"}},
		{"an ACL lets a user enter", 0o710, 0, 0, true, false, []string{"0710", "ACL", "setfacl -b"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(mnt, "snaps"+strconv.Itoa(i))
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(dir, tt.uid, tt.gid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tt.mode); err != nil {
				t.Fatal(err)
			}
			if tt.acl {
				if err := unix.Setxattr(dir, "system.posix_acl_access", aclLetting(65534), 0); err != nil {
					t.Fatalf("set an ACL on %s: %v", dir, err)
				}
			}
			_, err := New(Config{Dir: dir, Default: def})
			if tt.ok {
				if err != nil {
					t.Fatalf("New over a %04o directory: %v", tt.mode, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New accepted a %04o directory owned by %d:%d", tt.mode, tt.uid, tt.gid)
			}
			for _, w := range append(tt.want, dir, "setuid") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New's refusal does not mention %q: %v", w, err)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, metaDir)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the refused New made %s: %v", metaDir, err)
			}
		})
	}
}

// aclLetting encodes a POSIX access ACL (the system.posix_acl_access
// xattr: version 2, then tag, permissions and id per entry) that lets
// the owner do anything, uid enter, and nobody else anything: the mode
// it gives is 0710.
func aclLetting(uid uint32) []byte {
	const all = 0xffffffff
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range []struct {
		tag, perm uint16
		id        uint32
	}{{0x01, 7, all}, {0x02, 1, uid}, {0x04, 0, all}, {0x10, 1, all}, {0x20, 0, all}} {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}
