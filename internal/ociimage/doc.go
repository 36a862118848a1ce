// Package ociimage reads container images with containers/image (the
// library under podman and skopeo) and unpacks them into root filesystems
// with package rootfs.
//
// Sources are named the way skopeo names them: docker://REGISTRY/NAME:TAG
// (a registry, using the host's registries.conf, credentials and
// signature policy), oci:/PATH[:TAG] (an OCI layout directory),
// oci-archive:/PATH[:TAG] and docker-archive:/PATH[:NAME:TAG] (tarballs,
// as `podman save` writes them). Local paths must be absolute.
//
// An image is first copied into an OCI layout directory (CopyToLayout),
// which keeps its compressed layers, and then unpacked from there
// (Unpack): the layout is what a machine with private users unpacks again
// with its own id map, without a network or podman. For a multi-platform
// image, only this host's platform is copied; Digest resolves the same
// instance, so that the digest plan shows is the one apply fetches (a
// registry copy is pinned to it by digest; a changed local source is
// refused as stale).
package ociimage
