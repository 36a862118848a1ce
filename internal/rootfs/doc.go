// Package rootfs builds a root filesystem from OCI image layers: it applies
// layer tarballs to a directory, and puts a finished directory in place of
// an old one atomically.
//
// # Applying a layer
//
// ApplyLayer reads one uncompressed layer tarball and writes it into a root
// directory the way a container runtime would see it:
//
//   - whiteouts: an entry `.wh.NAME` removes NAME from the lower layers and
//     is not itself written; `.wh..wh..opq` makes its directory opaque (what
//     the lower layers put there is removed; what this layer puts there
//     stays, in whatever order the tarball lists it); other `.wh..wh.`
//     names (aufs bookkeeping) are ignored;
//   - regular files, directories, symbolic links, hard links, character
//     and block devices and FIFOs; a later entry replaces an earlier one
//     of the same name, and a directory entry over an existing directory
//     keeps its contents;
//   - ownership, then permissions (chown clears setuid and setgid bits, so
//     they are set after it and survive: newuidmap and sudo keep working),
//     then extended attributes (security.capability among them, which
//     chown would clear too), then times; directory times are set once
//     the whole layer is written, since writing into a directory changes
//     them;
//   - ownership shifted by an IDMap for machines with private users: id N
//     in the image becomes Base+N on the host, and an id at or beyond the
//     map's size is refused rather than wrapped. A version 2 file
//     capability is rewritten as version 3 with the machine's root as its
//     owner, as the kernel does when root inside a user namespace sets
//     one, so that it takes effect inside the machine.
//
// # Nothing escapes the root
//
// Every path is resolved with openat2(2) and RESOLVE_IN_ROOT relative to
// the root directory, so an absolute symbolic link or a `..` met while
// resolving a path stays inside the root, as it would inside the machine:
// a layer with `etc -> /` then `etc/passwd` writes ROOT/passwd, never the
// host's /etc/passwd. Entry names and hard link targets are checked before
// any of that: a name or target with a `..` component is refused outright
// (no image tool writes one; an attacker does). The final component of
// every entry is created fresh (O_EXCL, O_NOFOLLOW, after removing what
// was there), so an existing symbolic link is replaced, never written
// through. A parent directory missing from the tarball is created (owned by
// the image's root), but a parent that is a symbolic link to nothing is
// refused: creating its target would mean guessing. Magic links (/proc)
// and mount points are never crossed. This needs Linux 5.6 or later.
//
// # Atomic replacement
//
// A Stage is a temporary directory next to the destination
// (".NAME.rigplan-new-…"), on the same filesystem. Commit exchanges it
// with the destination (renameat2 RENAME_EXCHANGE) and removes the old
// copy, so readers see either the old tree or the new one, never a half
// of each; Discard removes it. Remove renames a tree aside before
// deleting it, so a half-deleted tree is never seen under its name, and
// RemoveStale clears what a killed run left next to a destination.
package rootfs
