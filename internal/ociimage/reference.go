package ociimage

import (
	"fmt"
	"strings"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	ociarchive "go.podman.io/image/v5/oci/archive"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/types"
)

// Transports rigplan accepts in an image source, as containers/image
// (skopeo, podman) names them.
const (
	TransportDocker        = "docker"
	TransportOCI           = "oci"
	TransportOCIArchive    = "oci-archive"
	TransportDockerArchive = "docker-archive"
)

// Examples is shown when a reference cannot be read.
const Examples = `"docker://ghcr.io/OWNER/IMAGE:TAG", "oci:/srv/images/runner:latest", "oci-archive:/srv/images/runner.tar" or "docker-archive:/srv/images/runner.tar"`

// Reference is a parsed image source.
type Reference struct {
	raw       string
	transport string
	// rest is what follows "TRANSPORT:".
	rest string
}

// ParseReference reads TRANSPORT:NAME without touching the host: a
// registry reference is checked in full, a local one for an absolute path
// (a relative one would depend on the directory rigplan happens to run
// in); containers/image reads local paths only when the image is used.
func ParseReference(s string) (Reference, error) {
	name, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return Reference{}, fmt.Errorf("%q names no transport: write one of %s", s, Examples)
	}
	r := Reference{raw: s, transport: name, rest: rest}
	switch name {
	case TransportDocker:
		if !strings.HasPrefix(rest, "//") {
			return Reference{}, fmt.Errorf("%q: a registry reference starts with docker:// (two slashes), e.g. docker://docker.io/library/debian:bookworm", s)
		}
		if _, err := r.imageRef(); err != nil {
			return Reference{}, err
		}
	case TransportOCI, TransportOCIArchive, TransportDockerArchive:
		if !strings.HasPrefix(rest, "/") {
			return Reference{}, fmt.Errorf("%q: the path must be absolute, e.g. %q (a relative path would depend on where rigplan runs)", s, name+":${path.module}/"+rest)
		}
	default:
		return Reference{}, fmt.Errorf("%q: unknown transport %q; rigplan reads docker://, oci:, oci-archive: and docker-archive:, e.g. %s", s, name, Examples)
	}
	return r, nil
}

// imageRef is the containers/image reference; for a local transport it
// resolves the path, which must exist.
func (r Reference) imageRef() (types.ImageReference, error) {
	var ref types.ImageReference
	var err error
	switch r.transport {
	case TransportDocker:
		ref, err = docker.ParseReference(r.rest)
	case TransportOCI:
		ref, err = layout.ParseReference(r.rest)
	case TransportOCIArchive:
		ref, err = ociarchive.ParseReference(r.rest)
	case TransportDockerArchive:
		ref, err = dockerarchive.ParseReference(r.rest)
	default:
		err = fmt.Errorf("unknown transport %q", r.transport)
	}
	if err != nil {
		return nil, fmt.Errorf("%q is not a valid %s reference: %w", r.raw, r.transport, err)
	}
	return ref, nil
}

// String is the reference as written.
func (r Reference) String() string { return r.raw }

// Transport is the reference's transport name, e.g. "docker".
func (r Reference) Transport() string { return r.transport }

// pinned returns a registry reference fixed to the manifest digest d, so
// that a copy fetches exactly what plan showed even if the tag moved
// since. Other transports are returned unchanged.
func (r Reference) pinned(d digest.Digest) (types.ImageReference, error) {
	ref, err := r.imageRef()
	if err != nil || r.transport != TransportDocker {
		return ref, err
	}
	named := ref.DockerReference()
	if named == nil {
		return ref, nil
	}
	canonical, err := reference.WithDigest(reference.TrimNamed(named), d)
	if err != nil {
		return nil, err
	}
	return docker.NewReference(canonical)
}
