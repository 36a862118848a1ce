package rootfs

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestApplyLayerWritesEntries(t *testing.T) {
	requireRoot(t)
	_, root := newRoot(t)
	l := layer(t,
		dir("./", 0o755),
		dir("etc/", 0o755),
		file("etc/hostname", "runner\n", 0o644),
		entry{name: "home/runner/.profile", typ: tar.TypeReg, mode: 0o600, body: "x", uid: 1000, gid: 1000},
		symlink("bin", "usr/bin"),
		file("usr/bin/tool", "#!/bin/sh\n", 0o755),
	)
	stats, err := ApplyLayer(context.Background(), root, bytes.NewReader(l), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Entries != 6 || stats.Bytes != int64(len("runner\n")+1+len("#!/bin/sh\n")) {
		t.Errorf("stats = %+v", stats)
	}
	if got := readFile(t, filepath.Join(root, "etc/hostname")); got != "runner\n" {
		t.Errorf("etc/hostname = %q", got)
	}
	st := lstat(t, filepath.Join(root, "home/runner/.profile"))
	if st.Uid != 1000 || st.Gid != 1000 || st.Mode&0o7777 != 0o600 {
		t.Errorf(".profile: uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode&0o7777)
	}
	// home/ and home/runner/ were not in the tarball: made 0755, root's.
	st = lstat(t, filepath.Join(root, "home/runner"))
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Mode&0o7777 != 0o755 || st.Uid != 0 {
		t.Errorf("implicit parent: mode %o uid %d", st.Mode, st.Uid)
	}
	if target, err := os.Readlink(filepath.Join(root, "bin")); err != nil || target != "usr/bin" {
		t.Errorf("bin -> %q, %v", target, err)
	}
	// Times: the file's, and the directory's, set after its children.
	for _, p := range []string{"etc/hostname", "etc", "."} {
		st := lstat(t, filepath.Join(root, p))
		if got := st.Mtim.Sec; got != layerTime.Unix() {
			t.Errorf("%s: mtime %d, want %d", p, got, layerTime.Unix())
		}
	}
}

// A setuid binary (newuidmap, sudo) must keep its bits after the chown
// that would clear them; a setgid directory too.
func TestApplyLayerKeepsSetuidAndSetgid(t *testing.T) {
	requireRoot(t)
	for _, idmap := range []*IDMap{nil, {Base: 524288, Size: 65536}} {
		_, root := newRoot(t)
		apply(t, root, Options{IDMap: idmap}, layer(t,
			entry{name: "usr/bin/newuidmap", typ: tar.TypeReg, mode: 0o4755, body: "elf"},
			entry{name: "usr/bin/wall", typ: tar.TypeReg, mode: 0o2755, body: "elf", gid: 5},
			entry{name: "srv/shared/", typ: tar.TypeDir, mode: 0o2775, gid: 50},
			entry{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		))
		for p, want := range map[string]uint32{"usr/bin/newuidmap": 0o4755, "usr/bin/wall": 0o2755, "srv/shared": 0o2775, "tmp": 0o1777} {
			if got := lstat(t, filepath.Join(root, p)).Mode & 0o7777; got != want {
				t.Errorf("idmap %v: %s mode %o, want %o", idmap, p, got, want)
			}
		}
	}
}

func TestApplyLayerShiftsOwnership(t *testing.T) {
	requireRoot(t)
	m := &IDMap{Base: 570097664, Size: 131072}
	_, root := newRoot(t)
	apply(t, root, Options{IDMap: m}, layer(t,
		dir("./", 0o755),
		entry{name: "home/runner/", typ: tar.TypeDir, mode: 0o750, uid: 1000, gid: 1000},
		entry{name: "home/runner/f", typ: tar.TypeReg, mode: 0o644, uid: 1000, gid: 100},
		entry{name: "home/runner/l", typ: tar.TypeSymlink, link: "f", uid: 1000, gid: 1000},
		entry{name: "nested/user", typ: tar.TypeReg, mode: 0o644, uid: 100000, gid: 100000},
	))
	for p, want := range map[string][2]uint32{
		".":             {m.Base, m.Base},
		"home":          {m.Base, m.Base}, // implicit parent: the machine's root
		"home/runner":   {m.Base + 1000, m.Base + 1000},
		"home/runner/f": {m.Base + 1000, m.Base + 100},
		"home/runner/l": {m.Base + 1000, m.Base + 1000},
		"nested/user":   {m.Base + 100000, m.Base + 100000},
	} {
		st := lstat(t, filepath.Join(root, p))
		if st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("%s: owner %d:%d, want %d:%d", p, st.Uid, st.Gid, want[0], want[1])
		}
	}

	// An id the machine does not map is refused, not wrapped.
	_, root = newRoot(t)
	_, err := ApplyLayer(context.Background(), root, bytes.NewReader(layer(t,
		entry{name: "f", typ: tar.TypeReg, mode: 0o644, uid: 65536},
	)), Options{IDMap: &IDMap{Base: 65536, Size: 65536}})
	if err == nil || !strings.Contains(err.Error(), "outside the 65536 ids") {
		t.Errorf("uid beyond the range: err = %v", err)
	}
}

func TestApplyLayerWhiteouts(t *testing.T) {
	_, root := newRoot(t)
	apply(t, root, Options{},
		layer(t, file("a/x", "x", 0o644), file("a/y", "y", 0o644), file("b/z", "z", 0o644), file("keep", "k", 0o644)),
		layer(t, file("a/.wh.x", "", 0o644), file(".wh.b", "", 0o644), file("a/.wh.missing", "", 0o644), file(".wh..wh.plnk", "", 0o644)),
	)
	mustNotExist(t, filepath.Join(root, "a/x"))
	mustNotExist(t, filepath.Join(root, "b"))
	mustNotExist(t, filepath.Join(root, "a/.wh.x"))
	mustNotExist(t, filepath.Join(root, ".wh..wh.plnk"))
	if got := listTree(t, root); !slices.Equal(got, []string{".", "a", "a/y", "keep"}) {
		t.Errorf("tree = %q", got)
	}
}

func TestApplyLayerOpaqueDirectory(t *testing.T) {
	_, root := newRoot(t)
	apply(t, root, Options{},
		layer(t, file("d/old", "1", 0o644), file("d/sub/old", "2", 0o644), file("other/kept", "3", 0o644)),
		// The marker may come before or after this layer's own entries.
		layer(t,
			dir("d/", 0o755),
			file("d/new-before", "4", 0o644),
			file("d/.wh..wh..opq", "", 0o644),
			file("d/new-after", "5", 0o644),
		),
	)
	want := []string{".", "d", "d/new-after", "d/new-before", "other", "other/kept"}
	if got := listTree(t, root); !slices.Equal(got, want) {
		t.Errorf("tree = %q, want %q", got, want)
	}
}

func TestApplyLayerHardLinks(t *testing.T) {
	_, root := newRoot(t)
	apply(t, root, Options{}, layer(t,
		file("usr/bin/python3.11", "py", 0o755),
		hardlink("usr/bin/python3", "usr/bin/python3.11"),
		hardlink("usr/bin/py-abs", "/usr/bin/python3.11"),
		symlink("usr/bin/link", "python3.11"),
		hardlink("usr/bin/link-to-link", "usr/bin/link"),
	))
	a := lstat(t, filepath.Join(root, "usr/bin/python3.11"))
	b := lstat(t, filepath.Join(root, "usr/bin/python3"))
	c := lstat(t, filepath.Join(root, "usr/bin/py-abs"))
	if a.Ino != b.Ino || a.Ino != c.Ino || a.Nlink != 3 {
		t.Errorf("inodes %d %d %d, nlink %d: want one inode with 3 links", a.Ino, b.Ino, c.Ino, a.Nlink)
	}
	// A hard link to a symbolic link links the link, not its target.
	if st := lstat(t, filepath.Join(root, "usr/bin/link-to-link")); st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("link to a symlink has mode %o, want a symlink", st.Mode)
	}
}

func TestApplyLayerDeviceNodes(t *testing.T) {
	requireRoot(t)
	_, root := newRoot(t)
	apply(t, root, Options{}, layer(t,
		entry{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		entry{name: "dev/loop0", typ: tar.TypeBlock, mode: 0o660, major: 7, minor: 0, gid: 6},
		entry{name: "run/initctl", typ: tar.TypeFifo, mode: 0o600},
	))
	for p, want := range map[string]struct {
		typ, perm    uint32
		major, minor uint32
	}{
		"dev/null":    {unix.S_IFCHR, 0o666, 1, 3},
		"dev/loop0":   {unix.S_IFBLK, 0o660, 7, 0},
		"run/initctl": {unix.S_IFIFO, 0o600, 0, 0},
	} {
		st := lstat(t, filepath.Join(root, p))
		if st.Mode&unix.S_IFMT != want.typ || st.Mode&0o7777 != want.perm || unix.Major(st.Rdev) != want.major || unix.Minor(st.Rdev) != want.minor {
			t.Errorf("%s: mode %o rdev %d:%d, want type %o perm %o rdev %d:%d", p, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev), want.typ, want.perm, want.major, want.minor)
		}
	}
	if st := lstat(t, filepath.Join(root, "dev/loop0")); st.Gid != 6 {
		t.Errorf("dev/loop0 gid %d, want 6", st.Gid)
	}
}

func getxattr(t *testing.T, p, name string) []byte {
	t.Helper()
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		t.Fatalf("getxattr %s %s: %v", p, name, err)
	}
	return buf[:n]
}

func TestApplyLayerXattrs(t *testing.T) {
	requireRoot(t)
	_, root := newRoot(t)
	if err := unix.Setxattr(root, "user.probe", []byte("1"), 0); err != nil {
		t.Skipf("the test directory's filesystem has no user xattrs: %v", err)
	}
	// cap_net_raw+ep as revision 2 (what ping carries).
	capV2 := make([]byte, vfsCapV2Size)
	binary.LittleEndian.PutUint32(capV2, vfsCapRevision2|1)
	binary.LittleEndian.PutUint32(capV2[4:], 1<<13)
	apply(t, root, Options{}, layer(t,
		entry{name: "etc/", typ: tar.TypeDir, mode: 0o755, xattrs: map[string]string{"user.dir": "d"}},
		entry{name: "etc/f", typ: tar.TypeReg, mode: 0o644, body: "x", xattrs: map[string]string{"user.a": "1", "user.b": "two"}},
		entry{name: "bin/ping", typ: tar.TypeReg, mode: 0o755, body: "elf", xattrs: map[string]string{capabilityXattr: string(capV2)}},
	))
	if got := string(getxattr(t, filepath.Join(root, "etc/f"), "user.b")); got != "two" {
		t.Errorf("user.b = %q", got)
	}
	if got := string(getxattr(t, filepath.Join(root, "etc"), "user.dir")); got != "d" {
		t.Errorf("user.dir = %q", got)
	}
	if got := getxattr(t, filepath.Join(root, "bin/ping"), capabilityXattr); !bytes.Equal(got, capV2) {
		t.Errorf("capability = %x, want %x", got, capV2)
	}

	// With an id map the capability becomes revision 3, owned by the
	// machine's root, so that it works inside the user namespace.
	_, root = newRoot(t)
	m := &IDMap{Base: 65536 * 4, Size: 65536}
	apply(t, root, Options{IDMap: m}, layer(t,
		entry{name: "bin/ping", typ: tar.TypeReg, mode: 0o755, body: "elf", xattrs: map[string]string{capabilityXattr: string(capV2)}},
	))
	got := getxattr(t, filepath.Join(root, "bin/ping"), capabilityXattr)
	if len(got) != vfsCapV3Size || binary.LittleEndian.Uint32(got)&vfsCapRevisionMask != vfsCapRevision3 ||
		binary.LittleEndian.Uint32(got[20:]) != m.Base || binary.LittleEndian.Uint32(got[4:]) != 1<<13 {
		t.Errorf("shifted capability = %x", got)
	}
}

func TestApplyLayerReplacesKinds(t *testing.T) {
	_, root := newRoot(t)
	apply(t, root, Options{},
		layer(t, file("a/inner", "1", 0o644), file("b", "file", 0o644), file("c", "c", 0o644), dir("d/", 0o700), file("d/kept", "k", 0o644)),
		layer(t, file("a", "now a file", 0o644), dir("b/", 0o755), symlink("c", "a"), dir("d/", 0o711)),
	)
	if got := readFile(t, filepath.Join(root, "a")); got != "now a file" {
		t.Errorf("a = %q", got)
	}
	if st := lstat(t, filepath.Join(root, "b")); st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("b is not a directory")
	}
	if st := lstat(t, filepath.Join(root, "c")); st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("c is not a symlink")
	}
	// A directory entry over a directory updates it and keeps its contents.
	if st := lstat(t, filepath.Join(root, "d")); st.Mode&0o7777 != 0o711 {
		t.Errorf("d mode %o, want 711", st.Mode&0o7777)
	}
	if got := readFile(t, filepath.Join(root, "d/kept")); got != "k" {
		t.Errorf("d/kept = %q", got)
	}
}

func TestApplyLayerRefusesMalformed(t *testing.T) {
	_, root := newRoot(t)
	for name, l := range map[string][]byte{
		"truncated":    layer(t, file("a", strings.Repeat("x", 4096), 0o644))[:2048],
		"root not dir": layer(t, file(".", "", 0o644)),
		"link to dir":  layer(t, dir("d/", 0o755), hardlink("l", "d")),
		"link to none": layer(t, hardlink("l", "missing")),
		"bad whiteout": layer(t, file("d/.wh.", "", 0o644)),
	} {
		if _, err := ApplyLayer(context.Background(), root, bytes.NewReader(l), Options{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestApplyLayerStopsOnCancel(t *testing.T) {
	_, root := newRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ApplyLayer(ctx, root, bytes.NewReader(layer(t, file("a", "1", 0o644))), Options{}); err == nil {
		t.Fatal("no error from a cancelled context")
	}
	mustNotExist(t, filepath.Join(root, "a"))
}
