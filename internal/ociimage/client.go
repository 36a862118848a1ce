package ociimage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// Client reads image sources and copies them into OCI layouts.
type Client struct {
	// Sys configures containers/image: registries.conf, credentials, the
	// signature policy, temporary directories. Nil uses the host's
	// configuration, as podman and skopeo do.
	Sys *types.SystemContext
}

// Digest resolves the digest of the image manifest that a copy of ref
// would fetch: for a multi-platform image, the instance for this host's
// platform. For a registry this is one manifest request; an archive is
// opened and read.
func (c *Client) Digest(ctx context.Context, ref Reference) (digest.Digest, error) {
	iref, err := ref.imageRef()
	if err != nil {
		return "", sourceError(ref, err)
	}
	src, err := iref.NewImageSource(ctx, c.Sys)
	if err != nil {
		return "", sourceError(ref, err)
	}
	defer src.Close()
	blob, mime, err := src.GetManifest(ctx, nil)
	if err != nil {
		return "", sourceError(ref, err)
	}
	if manifest.MIMETypeIsMultiImage(mime) {
		list, err := manifest.ListFromBlob(blob, mime)
		if err != nil {
			return "", fmt.Errorf("reading the manifest list of %s: %w", ref, err)
		}
		d, err := list.ChooseInstance(c.Sys)
		if err != nil {
			return "", fmt.Errorf("%s has no image for this host's platform: %w", ref, err)
		}
		return d, nil
	}
	return manifest.Digest(blob)
}

// sourceError says which source could not be read and what to check.
func sourceError(ref Reference, err error) error {
	hint := "check that the file exists and holds an image"
	if ref.transport == TransportDocker {
		hint = "check the image name and tag, that the registry is reachable from this host, and its credentials (podman login)"
	}
	return fmt.Errorf("cannot read the image %s (%s): %w", ref, hint, err)
}

// CopyOptions tune one copy.
type CopyOptions struct {
	// Digest, when set, is the manifest digest plan resolved: a registry
	// copy fetches exactly that manifest, and a copy from another
	// transport fails if the source no longer has it.
	Digest digest.Digest
	// Report receives containers/image's progress output; nil is quiet.
	Report io.Writer
}

// CopyToLayout copies the image ref names (this host's platform, for a
// multi-platform image) into a new OCI layout in dir, honouring the host's
// signature policy (/etc/containers/policy.json). It returns the digest
// of the manifest written, which differs from the source's when
// containers/image converts a Docker manifest to OCI.
func (c *Client) CopyToLayout(ctx context.Context, ref Reference, dir string, opts CopyOptions) (digest.Digest, error) {
	src, err := ref.imageRef()
	if err != nil {
		return "", sourceError(ref, err)
	}
	if opts.Digest != "" {
		if ref.transport == TransportDocker {
			if src, err = ref.pinned(opts.Digest); err != nil {
				return "", fmt.Errorf("pinning %s to %s: %w", ref, opts.Digest, err)
			}
		} else if now, err := c.Digest(ctx, ref); err != nil {
			return "", err
		} else if now != opts.Digest {
			return "", fmt.Errorf("%s changed since the plan (now %s, planned %s): run rigplan plan again", ref, now, opts.Digest)
		}
	}
	dest, err := layout.NewReference(dir, "latest")
	if err != nil {
		return "", err
	}
	policy, err := signature.DefaultPolicy(c.Sys)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("no image signature policy on this host (%w): install the Debian package golang-github-containers-common (podman depends on it), or write /etc/containers/policy.json", err)
		}
		return "", fmt.Errorf("reading the image signature policy: %w", err)
	}
	pc, err := signature.NewPolicyContext(policy)
	if err != nil {
		return "", fmt.Errorf("reading the image signature policy: %w", err)
	}
	defer pc.Destroy()
	written, err := copy.Image(ctx, pc, dest, src, &copy.Options{
		ReportWriter:   opts.Report,
		SourceCtx:      c.Sys,
		DestinationCtx: c.Sys,
	})
	if err != nil {
		return "", fmt.Errorf("copying %s: %w", ref, err)
	}
	return manifest.Digest(written)
}
