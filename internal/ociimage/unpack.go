package ociimage

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/types"

	"github.com/rigplan/rigplan/internal/progress"
	"github.com/rigplan/rigplan/internal/rootfs"
)

// UnpackOptions tune Unpack.
type UnpackOptions struct {
	// IDMap shifts ownership for a machine with private users.
	IDMap *rootfs.IDMap
	// Progress reports layers as they are applied; nil is quiet.
	Progress *progress.Reporter
}

// Unpack applies the layers of the only image in the OCI layout at
// layoutDir, in order, to the directory root, which should be empty (a
// rootfs.Stage). Each layer's digest is checked as it is read. It returns
// the image's manifest digest.
func Unpack(ctx context.Context, layoutDir, root string, opts UnpackOptions) (digest.Digest, error) {
	ref, err := layout.NewReference(layoutDir, "")
	if err != nil {
		return "", fmt.Errorf("opening the OCI layout %s: %w", layoutDir, err)
	}
	src, err := ref.NewImageSource(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("opening the OCI layout %s: %w", layoutDir, err)
	}
	defer src.Close()
	blob, mime, err := src.GetManifest(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("reading the manifest in %s: %w", layoutDir, err)
	}
	if manifest.MIMETypeIsMultiImage(mime) {
		return "", fmt.Errorf("the OCI layout %s holds a multi-platform index, not one image", layoutDir)
	}
	m, err := manifest.FromBlob(blob, mime)
	if err != nil {
		return "", fmt.Errorf("reading the manifest in %s: %w", layoutDir, err)
	}
	mdigest, err := manifest.Digest(blob)
	if err != nil {
		return "", err
	}
	// The root is the image's root directory: the machine's root owns it.
	uid, gid := 0, 0
	if opts.IDMap != nil {
		uid, gid = int(opts.IDMap.Base), int(opts.IDMap.Base)
	}
	if err := os.Chown(root, uid, gid); err != nil {
		return "", err
	}
	if err := os.Chmod(root, 0o755); err != nil {
		return "", err
	}

	layers := m.LayerInfos()
	start := time.Now()
	var total int64
	for i, l := range layers {
		if l.EmptyLayer {
			continue
		}
		n, err := applyBlob(ctx, src, l.BlobInfo, root, opts, i+1, len(layers))
		total += n
		if err != nil {
			opts.Progress.Done()
			return "", fmt.Errorf("unpacking layer %d of %d (%s) from %s: %w", i+1, len(layers), l.Digest, layoutDir, err)
		}
	}
	opts.Progress.Done()
	opts.Progress.Printf("unpacked %d layers (%s) in %s", len(layers), progress.Bytes(total), time.Since(start).Round(100*time.Millisecond))
	return mdigest, nil
}

// applyBlob streams one layer blob through digest verification and
// decompression into the root, and returns the uncompressed size written.
func applyBlob(ctx context.Context, src types.ImageSource, info types.BlobInfo, root string, opts UnpackOptions, n, of int) (int64, error) {
	rc, _, err := src.GetBlob(ctx, info, none.NoCache)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	verifier := info.Digest.Verifier()
	counted := &countingReader{r: io.TeeReader(rc, verifier), onRead: func(read int64) {
		opts.Progress.Statusf("unpacking layer %d/%d: %s of %s", n, of, progress.Bytes(read), progress.Bytes(info.Size))
	}}
	plain, _, err := compression.AutoDecompress(counted)
	if err != nil {
		return 0, fmt.Errorf("decompressing: %w", err)
	}
	defer plain.Close()
	stats, err := rootfs.ApplyLayer(ctx, root, plain, rootfs.Options{IDMap: opts.IDMap})
	if err != nil {
		return stats.Bytes, err
	}
	// Read what the tar reader left (padding, a compressor's trailer), so
	// that the digest covers the whole blob.
	// (Read only: pgzip's WriteTo panics on a stream already at its end.)
	if _, err := io.Copy(io.Discard, struct{ io.Reader }{plain}); err != nil {
		return stats.Bytes, fmt.Errorf("decompressing: %w", err)
	}
	if _, err := io.Copy(io.Discard, counted); err != nil {
		return stats.Bytes, err
	}
	if !verifier.Verified() {
		return stats.Bytes, fmt.Errorf("the layer's content does not match its digest %s: the layout is damaged; apply again to fetch the image anew", info.Digest)
	}
	return stats.Bytes, nil
}

// countingReader calls onRead with the bytes read so far.
type countingReader struct {
	r      io.Reader
	n      int64
	onRead func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.onRead(c.n)
	return n, err
}
