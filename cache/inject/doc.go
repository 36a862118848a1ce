// Package inject tells the cache agent which machine is asking, and puts
// mounts into that machine.
//
// # Who is asking
//
// The agent listens on a unix socket whose directory is bind-mounted
// read-only into every machine. Identifier.IdentifyConn takes the peer's
// pidfd (SO_PEERPIDFD, or pidfd_open of the SO_PEERCRED pid on kernels
// before 6.5), reads its unified-hierarchy cgroup from /proc/PID/cgroup and
// takes the machine name from the unit directly in machine.slice
// (systemd-nspawn@NAME.service or machine-NAME.scope, unit-name escapes
// undone). The name must be declared. The machine's leader is the process
// in the unit's cgroup subtree that is PID 1 of the outermost pid namespace
// there (innermost NSpid 1); the peer must share that pid namespace. The
// pidfd is checked to be alive after /proc is read, so a reused pid is
// never believed. Everyone else is refused with a reason naming what is
// wrong ("pid 123 is not in a declared machine (cgroup /user.slice/…)"),
// wrapping ErrRefused.
//
// IdentifyConn also returns the peer's Cred, the rights a mount is made
// with: SO_PEERCRED's pid, uid and gid, and the supplementary groups from
// /proc/PID/status, read while the pidfd is held. A peer whose effective
// uid or gid there differs from what it connected with (it called setuid,
// or ran a setuid program, since) is refused: neither set would describe
// who asks.
//
// Deliberately refused: units outside machine.slice (an unprivileged user
// can name a unit systemd-nspawn@ci.service in its own delegated subtree);
// the nspawn supervisor (host pid namespace); processes in pid namespaces
// nested inside the machine (containers a job runs), since the mount goes
// to the machine, not to them.
//
// # Mounting
//
// Mount clones the host directory (open_tree OPEN_TREE_CLONE, not
// recursive) and, in one mount_setattr on the clone, idmaps it to the
// machine's user namespace, makes it nosuid and nodev, and makes it
// private (MOUNT_ATTR_IDMAP|MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV,
// MS_PRIVATE). Ownership on disk is the machine's view: uid 1000 in the
// machine reads and writes files owned by uid 1000 on disk, and machine
// root's files are uid 0 on disk. That is why a cache must never carry
// privilege: a setuid-root program or a device node machine root left
// in one job's cache would otherwise give root, or the device, to the
// runner of every later job that mounts a copy. Private, because a clone
// of a shared host mount would otherwise be its peer, and a job's mounts
// inside its cache would appear on the host.
//
// A request does only what its sender could do itself: Mount and
// CheckTarget act with the requester's Cred (from IdentifyConn). On a
// throw-away locked OS thread (never the main thread, which /proc/self
// names and Go never retires) that did unshare(CLONE_FS) and setns into
// the machine's mount namespace, the agent sets the thread's
// supplementary groups, fsgid and fsuid to the requester's host ids and
// drops every capability (golang.org/x/sys/unix's raw per-thread
// syscalls; syscall.Setgroups would change every thread of the agent),
// then resolves the target beneath the machine's root with openat2
// (RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS), so search
// permission on the way is the requester's. A missing last component is
// made there with mkdirat, as the requester (mode 0755 under umask 022,
// the requester's own: nothing is chowned), so that after an unmount the
// machine sees an ordinary directory of the requester's. move_mount needs
// root's rights: it runs on a second throw-away thread that joined the
// namespace too, onto the O_PATH descriptor the first thread opened, so
// the mount lands on the very directory that was checked, whatever the
// job renames meanwhile.
//
// The target is accepted only when it is
//   - a directory the requester owns (st_uid is the requester's host
//     uid), or one the requester just made: never another user's, so a
//     job's runner cannot hide machine root's files (a script root runs
//     later) under its cache, while machine root may mount onto its own;
//   - on the machine's root mount: the target, or its parent when the
//     target is missing, has the STATX_MNT_ID of the machine's "/". That
//     refuses a directory bound in from the host (nspawn's --bind, even
//     read-write: the host's directory is not the machine's to fill), a
//     filesystem the job mounted, and another cache;
//   - not a mount point, so a second request for the same path cannot
//     hide the first snapshot.
//
// Measured on systemd-nspawn 252: with --volatile=overlay --read-only
// (the project's example machines) "/" is one overlayfs (the image below,
// a tmpfs above) holding /home and the rest of the image; with --directory=/
// --volatile=yes (package machinetest) "/" is a tmpfs, and /usr is the
// host's, bound read-only. In both, /tmp, /run, /dev and /dev/shm are
// tmpfs mounts of their own and every --bind is a mount of its own: a
// cache is mounted under a home directory or another directory of the
// machine's image, never under /tmp or /run.
//
// CheckTarget resolves a target the same way, with the requester's
// credentials, and changes nothing: for a missing target, the parent must
// be on the machine's root mount and writable and searchable by the
// requester (faccessat2 W_OK|X_OK with AT_EACCESS, which checks the
// thread's fsuid, fsgid and groups; without AT_EACCESS the kernel would
// check the agent's real uid, root). The agent calls it before it makes a
// snapshot, so that a bad target costs none.
//
// Refusals wrap ErrBadPath and say in words what is wrong, naming the
// path and uids as the machine sees them ("mount path /home/runner/x
// belongs to uid 0 in the machine, not to the requesting uid 1000: ...").
// No system error's text reaches the client: each errno on this path
// that the client can cause is put into words, with the errno wrapped
// for the log; anything else is the agent's own failure, which the agent
// logs and does not show.
//
// Kernel needs: Linux 5.12 (idmapped mounts), 5.8 (STATX_ATTR_MOUNT_ROOT,
// STATX_MNT_ID, faccessat2), 5.6 (openat2), 5.3 (pidfd_open). The original setup's shared-propagation
// dance for kernels without the new mount API is not implemented: Mount
// fails naming the requirement.
//
// Every function that acts on a Machine re-checks that its leader pid still
// names the process found by Identify or Lookup (pid plus start time), and
// fails with ErrNotRunning once the machine is gone: also when a step
// (opening /proc/PID/ns, setns, openat2, move_mount…) fails because the
// machine died under it, and while a killed leader is a zombie not yet
// reaped (its namespaces are gone already).
//
// # Watching
//
// WatchLeader returns a pidfd-backed Watch that becomes readable when the
// machine's leader exits: the agent then seals or discards the snapshot.
// Mounts lists what is mounted inside a machine, for the agent's restart
// recovery.
//
// The real-machine tests start systemd-nspawn machines with package
// machinetest.
package inject
