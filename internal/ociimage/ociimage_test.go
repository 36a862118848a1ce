package ociimage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/rigplan/rigplan/internal/ociimage/ocitest"
	"github.com/rigplan/rigplan/internal/progress"
	"github.com/rigplan/rigplan/internal/rootfs"
)

func TestParseReference(t *testing.T) {
	for _, s := range []string{
		"docker://docker.io/library/debian:bookworm",
		"docker://ghcr.io/actions/actions-runner@sha256:" + strings.Repeat("a", 64),
		"docker://busybox",
		"oci:/srv/images/runner",
		"oci:/srv/images/runner:v1",
		"oci-archive:/srv/images/runner.tar",
		"docker-archive:/srv/images/runner.tar",
		"docker-archive:/srv/images/runner.tar:localhost/runner:latest",
	} {
		ref, err := ParseReference(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if ref.String() != s {
			t.Errorf("String() = %q, want %q", ref.String(), s)
		}
	}
	for s, want := range map[string]string{
		"":                                    "names no transport",
		"debian":                              "names no transport",
		"debian:bookworm":                     `unknown transport "debian"`,
		"docker:debian":                       "docker:// (two slashes)",
		"docker://Debian:Bookworm":            "not a valid docker reference",
		"docker://debian:bad tag!":            "not a valid docker reference",
		"oci:images/runner":                   "must be absolute",
		"oci-archive:./runner.tar":            "must be absolute",
		"docker-archive:runner.tar":           "must be absolute",
		"containers-storage:localhost/runner": "unknown transport",
		"dir:/srv/x":                          "unknown transport",
	} {
		_, err := ParseReference(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseReference(%q) = %v, want an error containing %q", s, err, want)
		}
	}
}

// testImage writes a two-layer OCI layout: a base, then a layer that
// deletes and replaces parts of it.
func testImage(t *testing.T, dir string) (digest.Digest, [][]byte) {
	t.Helper()
	layers := [][]byte{
		ocitest.Layer(t,
			ocitest.Dir("etc/", 0o755),
			ocitest.File("etc/os-release", "ID=test\n", 0o644),
			ocitest.File("etc/old", "gone soon", 0o644),
			ocitest.Entry{Name: "usr/bin/newuidmap", Mode: 0o4755, Body: "elf"},
			ocitest.Symlink("bin", "usr/bin"),
		),
		ocitest.Layer(t,
			ocitest.File("etc/.wh.old", "", 0o644),
			ocitest.File("etc/hostname", "runner\n", 0o644),
		),
	}
	return ocitest.WriteLayout(t, dir, layers...), layers
}

// checkRootfs checks what testImage's layers make.
func checkRootfs(t *testing.T, root string) {
	t.Helper()
	if b, err := os.ReadFile(filepath.Join(root, "etc/hostname")); err != nil || string(b) != "runner\n" {
		t.Errorf("etc/hostname = %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/old")); !os.IsNotExist(err) {
		t.Errorf("etc/old survived its whiteout: %v", err)
	}
	st, err := os.Stat(filepath.Join(root, "bin/newuidmap"))
	if err != nil || st.Mode()&os.ModeSetuid == 0 {
		t.Errorf("bin/newuidmap: %v, %v: want a setuid file through the bin link", st, err)
	}
	if st, err := os.Stat(root); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("root: %v %v, want mode 0755", st, err)
	}
}

func copyAndUnpack(t *testing.T, src string) (copied, unpacked digest.Digest) {
	t.Helper()
	ctx := context.Background()
	ref, err := ParseReference(src)
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{}
	planned, err := c.Digest(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "oci")
	copied, err = c.CopyToLayout(ctx, ref, out, CopyOptions{Digest: planned})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	unpacked, err = Unpack(ctx, out, root, UnpackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkRootfs(t, root)
	return copied, unpacked
}

func TestCopyAndUnpackOCILayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	md, _ := testImage(t, dir)
	ref, _ := ParseReference("oci:" + dir)
	if got, err := (&Client{}).Digest(context.Background(), ref); err != nil || got != md {
		t.Errorf("Digest = %s, %v; want %s", got, err, md)
	}
	copied, unpacked := copyAndUnpack(t, "oci:"+dir+":latest")
	if copied != md || unpacked != md {
		t.Errorf("copied %s, unpacked %s: an OCI to OCI copy keeps the manifest %s", copied, unpacked, md)
	}
}

func TestCopyAndUnpackOCIArchive(t *testing.T) {
	base := t.TempDir()
	md, _ := testImage(t, filepath.Join(base, "layout"))
	archive := filepath.Join(base, "runner.tar")
	ocitest.TarDir(t, filepath.Join(base, "layout"), archive)
	ref, _ := ParseReference("oci-archive:" + archive)
	if got, err := (&Client{}).Digest(context.Background(), ref); err != nil || got != md {
		t.Errorf("Digest = %s, %v; want %s", got, err, md)
	}
	if copied, unpacked := copyAndUnpack(t, "oci-archive:"+archive); copied != unpacked {
		t.Errorf("copied %s but unpacked %s", copied, unpacked)
	}
}

func TestCopyAndUnpackDockerArchive(t *testing.T) {
	base := t.TempDir()
	_, layers := testImage(t, filepath.Join(base, "layout"))
	archive := filepath.Join(base, "runner.tar")
	ocitest.WriteDockerArchive(t, archive, "localhost/runner:latest", layers...)
	// The Docker manifest is converted to OCI on the way: the layout's
	// digest is the converted manifest's.
	if copied, unpacked := copyAndUnpack(t, "docker-archive:"+archive); copied != unpacked {
		t.Errorf("copied %s but unpacked %s", copied, unpacked)
	}
}

func TestCopyRefusesAChangedSource(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	testImage(t, dir)
	ref, _ := ParseReference("oci:" + dir)
	out := filepath.Join(t.TempDir(), "oci")
	stale := digest.FromString("the image plan saw")
	_, err := (&Client{}).CopyToLayout(context.Background(), ref, out, CopyOptions{Digest: stale})
	if err == nil || !strings.Contains(err.Error(), "changed since the plan") {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused copy wrote %s: %v", out, err)
	}
}

func TestDigestOfUnreachableOrMissingSource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Nothing listens on port 1 of this host.
	for src, want := range map[string]string{
		"docker://127.0.0.1:1/rigplan/none:latest":       "registry is reachable",
		"oci:" + filepath.Join(t.TempDir(), "none"):      "check that the file exists",
		"oci-archive:" + filepath.Join(t.TempDir(), "x"): "check that the file exists",
	} {
		ref, err := ParseReference(src)
		if err != nil {
			t.Fatal(err)
		}
		_, err = (&Client{}).Digest(ctx, ref)
		if err == nil || !strings.Contains(err.Error(), "cannot read the image "+src) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v", src, err)
		}
	}
}

func TestUnpackRefusesADamagedLayer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	md := ocitest.WriteLayout(t, dir, ocitest.Layer(t, ocitest.File("a", "real", 0o644)))
	// Put another valid gzip'd layer where the first one's blob is.
	other := filepath.Join(t.TempDir(), "other")
	ocitest.WriteLayout(t, other, ocitest.Layer(t, ocitest.File("a", "evil", 0o644)))
	var real, fake string
	for _, d := range []struct {
		dir string
		out *string
	}{{dir, &real}, {other, &fake}} {
		matches, _ := filepath.Glob(filepath.Join(d.dir, "blobs/sha256/*"))
		for _, m := range matches {
			if b, _ := os.ReadFile(m); len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
				*d.out = m
			}
		}
	}
	b, _ := os.ReadFile(fake)
	if err := os.WriteFile(real, b, 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	_, err := Unpack(context.Background(), dir, root, UnpackOptions{})
	if err == nil || !strings.Contains(err.Error(), "does not match its digest") {
		t.Errorf("manifest %s: err = %v", md, err)
	}
}

func TestUnpackShiftsOwnershipAndReports(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	dir := filepath.Join(t.TempDir(), "layout")
	testImage(t, dir)
	root := t.TempDir()
	var out bytes.Buffer
	m := &rootfs.IDMap{Base: 1 << 20, Size: 65536}
	if _, err := Unpack(context.Background(), dir, root, UnpackOptions{IDMap: m, Progress: progress.New(&out, "image.test")}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".", "etc", "etc/hostname", "usr/bin/newuidmap"} {
		st, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if uid := st.Sys().(*syscall.Stat_t).Uid; uid != m.Base {
			t.Errorf("%s owned by %d, want %d", p, uid, m.Base)
		}
	}
	if !strings.HasPrefix(out.String(), "image.test: unpacked 2 layers (") {
		t.Errorf("progress = %q", out.String())
	}
}
