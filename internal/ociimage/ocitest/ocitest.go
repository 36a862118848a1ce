// Package ocitest writes small container images by hand for tests: layer
// tarballs, OCI layouts, oci-archive and docker-archive tarballs, in the
// formats the OCI image spec and `docker save` define. No registry, no
// podman.
package ocitest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Time is the modification time of every entry written.
var Time = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// Entry is one tarball entry.
type Entry struct {
	Name     string
	Type     byte // tar.TypeReg when zero
	Mode     int64
	Body     string
	Link     string
	UID, GID int
	Xattrs   map[string]string
}

// File is a regular file entry.
func File(name, body string, mode int64) Entry { return Entry{Name: name, Mode: mode, Body: body} }

// Dir is a directory entry.
func Dir(name string, mode int64) Entry { return Entry{Name: name, Type: tar.TypeDir, Mode: mode} }

// Symlink is a symbolic link entry.
func Symlink(name, target string) Entry {
	return Entry{Name: name, Type: tar.TypeSymlink, Mode: 0o777, Link: target}
}

// Layer builds an uncompressed layer tarball.
func Layer(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.Name, Typeflag: typ, Mode: e.Mode, Linkname: e.Link, Uid: e.UID, Gid: e.GID, ModTime: Time, Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		for k, v := range e.Xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("writing %s: %v", e.Name, err)
		}
		if _, err := tw.Write([]byte(e.Body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// config is the image configuration of an image with these layers, for
// this host's platform.
func config(t testing.TB, layers [][]byte) []byte {
	t.Helper()
	cfg := imgspecv1.Image{
		Platform: imgspecv1.Platform{Architecture: runtime.GOARCH, OS: "linux"},
		RootFS:   imgspecv1.RootFS{Type: "layers"},
		Config:   imgspecv1.ImageConfig{Cmd: []string{"/sbin/init"}},
	}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.FromBytes(l))
	}
	return mustJSON(t, cfg)
}

// WriteLayout writes an OCI layout holding one image (tagged "latest")
// with the given layers, gzip-compressed, and returns its manifest digest.
func WriteLayout(t testing.TB, dir string, layers ...[]byte) digest.Digest {
	t.Helper()
	blob := func(b []byte) digest.Digest {
		d := digest.FromBytes(b)
		writeFile(t, filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded()), b)
		return d
	}
	cfg := config(t, layers)
	m := imgspecv1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: imgspecv1.MediaTypeImageManifest,
		Config:    imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: blob(cfg), Size: int64(len(cfg))},
	}
	for _, l := range layers {
		z := gzipped(t, l)
		m.Layers = append(m.Layers, imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageLayerGzip, Digest: blob(z), Size: int64(len(z))})
	}
	mb := mustJSON(t, m)
	md := blob(mb)
	index := imgspecv1.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: imgspecv1.MediaTypeImageIndex,
		Manifests: []imgspecv1.Descriptor{{
			MediaType: imgspecv1.MediaTypeImageManifest, Digest: md, Size: int64(len(mb)),
			Annotations: map[string]string{imgspecv1.AnnotationRefName: "latest"},
		}},
	}
	writeFile(t, filepath.Join(dir, imgspecv1.ImageIndexFile), mustJSON(t, index))
	writeFile(t, filepath.Join(dir, imgspecv1.ImageLayoutFile), mustJSON(t, imgspecv1.ImageLayout{Version: imgspecv1.ImageLayoutVersion}))
	return md
}

// TarDir writes the tree at dir as a tarball at path (an oci-archive when
// dir is an OCI layout).
func TarDir(t testing.TB, dir, path string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(b)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.Bytes())
}

// WriteDockerArchive writes a tarball in `docker save` format holding one
// image named repoTag (e.g. "localhost/runner:latest") with the given
// uncompressed layers.
func WriteDockerArchive(t testing.TB, path, repoTag string, layers ...[]byte) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: Time, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config(t, layers)
	cfgName := digest.FromBytes(cfg).Encoded() + ".json"
	add(cfgName, cfg)
	var layerNames []string
	for _, l := range layers {
		name := digest.FromBytes(l).Encoded() + "/layer.tar"
		add(name, l)
		layerNames = append(layerNames, name)
	}
	add("manifest.json", mustJSON(t, []map[string]any{{"Config": cfgName, "RepoTags": []string{repoTag}, "Layers": layerNames}}))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.Bytes())
}
