// Package podman is rigplan's image provider: the resource type image, a
// root filesystem for machines, built from a Containerfile with podman or
// copied from an existing image with containers/image.
//
//	image "runner" {
//	  name = "runner"
//	  build {
//	    context = "${path.module}/runner"   # holds the Containerfile
//	    args    = { RUNNER_VERSION = "2.321.0" }
//	  }
//	}
//
//	image "base" {
//	  name   = "debian"
//	  source = "docker://docker.io/library/debian:bookworm"
//	}
//
// # What apply makes
//
// Each image is a directory /var/lib/rigplan/images/NAME (mode 0700, so
// that the image's setuid binaries are out of reach of the host's users)
// holding:
//
//	rigplan-image   the ownership mark: "# rigplan:managed image.ADDR",
//	                then what the image was made from (JSON)
//	oci/            the image as an OCI layout (compressed layers)
//	rootfs/         the image unpacked (attribute path)
//
// A build runs `podman build --isolation chroot` (isolation is
// configurable; chroot is what works on hosts where podman cannot run
// containers), tags the result localhost/rigplan/NAME:latest in podman's
// storage (so the next build reuses its layer cache) and exports it with
// `podman push ID oci:DIR`, which keeps every file's mode and owner. It
// does not use `podman build --output type=tar`, which loses setuid bits
// and so breaks newuidmap inside the machine. A source is copied with
// containers/image into the same kind of layout (this host's platform of a
// multi-platform image, honouring /etc/containers/policy.json and
// registries.conf). Both are then unpacked by package rootfs, which
// applies whiteouts, hard links, device nodes, extended attributes and
// setuid bits, and never writes outside the root filesystem (see
// internal/rootfs). The layout is kept so that a machine with private
// users can unpack the same image again with its own uid range.
//
// Everything is made in a temporary directory next to the image's
// (".NAME.rigplan-new-…") and exchanged with it in one rename: a failed or
// interrupted apply leaves the previous image, or nothing, never half of
// one; the next apply removes such leftovers.
//
// # What plan compares
//
// source_digest is what the image is made from, resolved at every plan:
// the manifest digest a copy of source would fetch (one registry request
// for docker://; archives are opened), or for a build a SHA-256 over the
// Containerfile, the build arguments, the target and every file of the
// context that .containerignore (or .dockerignore) does not exclude,
// with its path, type, permissions and content. When it differs from the
// one recorded, plan shows it changing and digest (the manifest digest of
// the unpacked image) as known after apply; apply makes the image again
// and swaps it in. A registry copy is pinned to the digest plan showed;
// a local source or build context that changed since the plan is refused
// as stale. Changing only how an image is made (isolation, timeout, the
// spelling of source) rewrites the record without rebuilding.
//
// A build's inputs are only its context: a base image that moved upstream
// does not show. Rebuild with `rigplan apply -replace image.NAME`.
//
// # Refused, with what to do
//
//   - a directory under the image's name without rigplan's mark, or with
//     another address's: refresh reports it as unmanaged, which the
//     planner refuses, and apply checks again before touching it;
//   - a missing build context or Containerfile, a malformed reference, a
//     relative local path, a source that cannot be read (unreachable
//     registry, missing archive): plan fails, naming the source;
//   - podman missing when a build is due: plan fails, naming the Debian
//     package;
//   - a failing build: apply fails with the end of podman's output (the
//     failing step and what its command printed) and podman's error;
//   - a layer that would write outside the image's root, or whose content
//     does not match its digest: apply fails, nothing is written outside,
//     the previous image stays.
//
// # Progress
//
// On a terminal, builds stream podman's output and copies and unpacks
// redraw a status line; elsewhere (CI) the CLI passes no writer and
// nothing is printed beyond the apply's own lines.
package podman
