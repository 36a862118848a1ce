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
// Deliberately refused: units outside machine.slice (an unprivileged user
// can name a unit systemd-nspawn@ci.service in its own delegated subtree);
// the nspawn supervisor (host pid namespace); processes in pid namespaces
// nested inside the machine (containers a job runs), since the mount goes
// to the machine, not to them.
//
// # Mounting
//
// Mount clones the host directory (open_tree OPEN_TREE_CLONE, not
// recursive), idmaps the clone to the machine's user namespace and makes it
// private (mount_setattr MOUNT_ATTR_IDMAP, MS_PRIVATE: a clone of a shared
// host mount would otherwise be its peer, and a job's mounts inside its
// cache would appear on the host), and from a throw-away locked OS thread
// (never the main thread, which /proc/self names and Go never retires)
// that did unshare(CLONE_FS) and setns into the machine's mount namespace,
// resolves the target beneath the machine's root with openat2
// (RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS) and attaches
// the clone there with move_mount. Ownership on disk is the machine's view:
// uid 1000 in the machine reads and writes files owned by uid 1000 on disk.
// A missing last component of the target is created, mode 0755, owned by
// the machine's root (the host uid its uid_map gives for 0), so that after
// an unmount the machine sees an ordinary root-owned empty directory.
// Targets that are already mount points are refused, so a second request
// for the same path cannot hide the first snapshot. CheckTarget resolves
// a target the same way and changes nothing: the agent calls it before
// it makes a snapshot, so that a bad target costs none.
//
// Kernel needs: Linux 5.12 (idmapped mounts), 5.8 (STATX_ATTR_MOUNT_ROOT),
// 5.6 (openat2), 5.3 (pidfd_open). The original setup's shared-propagation
// dance for kernels without the new mount API is not implemented: Mount
// fails naming the requirement.
//
// Every function that acts on a Machine re-checks that its leader pid still
// names the process found by Identify or Lookup (pid plus start time), and
// fails with ErrNotRunning once the machine is gone.
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
