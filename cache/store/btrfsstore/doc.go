// Package btrfsstore keeps the cache agent's snapshots as btrfs subvolume
// snapshots in one directory, with their metadata in sidecar files.
//
// # Layout
//
//	DIR/NAME              one subvolume per snapshot
//	DIR/.rigplan/NAME     its sidecar: JSON {version, state, created, machine, origin, annotations};
//	                      mode 0400 once sealed, 0600 before
//	DEFAULT               the default subvolume (any path on the same filesystem)
//
// The metadata lives outside the subvolume: xattrs on the subvolume's
// root directory would be writable by the job that owns it, and every
// snapshot would inherit its origin's. A sidecar is replaced atomically
// (a temporary file renamed over it); sealed states are fsynced, others
// are not worth the wait (see writeSidecar). Terms are kept whole
// (Store.Term is the identity): nothing here limits their alphabet or
// length.
//
// # Operations
//
// No operation runs a command; each is a few system calls:
//
//	List      one scan of DIR (an lstat per entry) and of DIR/.rigplan, one read per sidecar
//	          (and BTRFS_IOC_SUBVOL_GETFLAGS for a sealed one whose sidecar says otherwise);
//	          with quotas on, BTRFS_IOC_QUOTA_RESCAN_STATUS and two BTRFS_IOC_TREE_SEARCH
//	          (the quota tree, every ROOT_REF item of the root tree) for every snapshot's Size
//	Create    BTRFS_IOC_SNAP_CREATE_V2 (writable), BTRFS_IOC_QGROUP_LIMIT, then the sidecar
//	Mount     a bind mount of DIR/NAME, nosuid and nodev: open_tree, mount_setattr, move_mount
//	SetState  the sidecar; sealing first sets the subvolume read-only
//	Copy      syncfs of the mount, BTRFS_IOC_SNAP_CREATE_V2 (read-only), the sidecar
//	Delete    a BTRFS_IOC_TREE_SEARCH per subvolume for those nested in it, a scan for mounts of
//	          them in every mount namespace, BTRFS_IOC_SNAP_DESTROY_V2 per nested one, deepest
//	          first, BTRFS_IOC_SNAP_DESTROY, the sidecar
//	Usage     statfs(2)
//	Busy      the same scan for mounts as Delete (store.BusyChecker)
//	Settle    BTRFS_IOC_SYNC, then a BTRFS_IOC_TREE_SEARCH per deleted subvolume every 50 ms
//	          until btrfs has dropped them all (again BTRFS_IOC_SYNC every second), then
//	          syncfs (store.Settler)
//
// The snapshot ioctl is used instead of `btrfs subvolume snapshot`: the
// fork and exec cost 3 to 5 times the snapshot itself (BenchmarkCreate
// measures both side by side). Either way the kernel commits a
// transaction per snapshot, a few milliseconds, whatever the origin
// holds.
//
// # No privilege on the host
//
// A job's root writes files as uid 0 on disk (its mount is idmapped), so
// a cache may hold setuid-root binaries and device nodes. Mount makes the
// staging bind mount nosuid and nodev before it is attached (mount(2)
// ignores those flags together with MS_BIND; open_tree, mount_setattr
// and move_mount set them on a detached copy first), and the clones the
// agent puts into machines keep them. The subvolumes themselves sit in
// DIR, where no mount option protects them: New refuses a DIR that a
// host user other than root may enter (owned by another user, x for
// others, x for a group other than 0, or x for the group with an access
// ACL), naming its mode and owner and the fix (chmod 0700 DIR).
//
// # Crash safety
//
// A subvolume without a readable sidecar, and a sidecar without its
// subvolume, are listed Pending, and Delete removes either. Create and
// Copy make the subvolume first and write the sidecar after; Delete
// removes the subvolume first and the sidecar after: at every point in
// between, what is left is Pending. Temporary sidecars a crash leaves are
// ignored by List and removed by Delete. A seal cut short after the
// subvolume is read-only and before its sidecar says sealed (or is
// marked) has not happened: the snapshot is still in use, and the agent
// seals it again.
//
// # A full filesystem
//
// A job can fill the filesystem through its cache (unless Quota bounds
// it). btrfs then refuses every new data block, a sidecar's included,
// yet still makes snapshots, changes flags and modes, and deletes
// (deletion frees space and draws on btrfs's global reserve). So:
//
//   - Every operation that fails for lack of room (ENOSPC, or EDQUOT from
//     a quota) returns a *store.FullError naming "btrfs filesystem at
//     DIR" and its use read at that moment (errors.Is store.ErrFull).
//   - Create and Copy, whose snapshot is made but whose sidecar finds no
//     room, delete the snapshot again before they return the FullError:
//     nothing is left for List to report.
//   - SetState to in-use or pending needs room for the sidecar; without
//     it, it fails with a FullError and changes nothing.
//   - Sealing needs no room. It makes the subvolume read-only (the
//     flag needs no data block), then writes the sealed sidecar; when
//     that finds no room, it marks the old sidecar instead, with mode
//     0400 (a chmod needs no data block either), and succeeds. A
//     read-only subvolume whose sidecar is marked is sealed: List reports
//     it Sealed whatever the sidecar's text says, and New (the agent's
//     start) rewrites such sidecars when there is room; List itself never
//     writes. The read-only flag alone is no seal: a job may make its own
//     cache read-only (it owns the subvolume's root) and writable again,
//     and its snapshot stays in use.
//   - Delete works on a full filesystem. btrfs gives the space back in
//     the background, once its cleaner has dropped the subvolume (within
//     the 30-second commit interval, then as long as the tree takes):
//     Usage falls some moments after Delete returns, not at once, or
//     once Settle returns (below).
//
// # Space given back
//
// BTRFS_IOC_SNAP_DESTROY unlinks a subvolume and returns; the cleaner
// thread drops its tree when the transaction thread next wakes it
// (every commit interval, 30 seconds by default), and statfs counts the
// freed extents once the transaction that freed them is committed.
// Retention, which deletes a snapshot at a time when sizes are unknown
// (quotas off) and reads Usage after each, would find the store as full
// as before and delete every sealed cache. So the store implements
// store.Settler: Delete remembers the ids of the subvolumes it destroyed
// (the snapshot's and those its job made inside it; the newest 4096
// when nobody settles), and Settle waits for them as `btrfs subvolume
// sync` does, polling for their ROOT_ITEMs in the root tree, which the
// cleaner removes last (BTRFS_IOC_SUBVOL_SYNC_WAIT does it in the kernel
// from Linux 6.13 only; the hosts run 6.1). It first wakes the cleaner
// with BTRFS_IOC_SYNC (what `btrfs filesystem sync` does: it commits the
// running transaction and pokes the transaction thread, which wakes the
// cleaner; newer kernels wake the cleaner directly), which makes the
// wait milliseconds for a cache of hundreds of MiB instead of up to 30
// seconds (seen on Linux 6.1, in the UML kernel, and 6.18), and wakes it
// again every second (a subvolume with a file still open when it was
// deleted reaches the cleaner only once that file is closed). Last it
// syncs the filesystem, without which statfs still counts the space
// (seen on both). Both syncs write back the whole filesystem's dirty
// data, the jobs' too; they run apart from Settle's caller, so that its
// context bounds the wait even when the writeback takes long.
// Subvolumes not dropped when the context ends are forgotten: their
// space comes back by itself.
//
// # Delete and mounts
//
// btrfs deletes a subvolume that is bind-mounted elsewhere without
// complaint and leaves that mount empty (seen on Linux 6.18). Delete
// therefore looks for a mount of the subvolume (by its subvolume id and
// the filesystem's device number) in /proc/PID/mountinfo of every mount
// namespace, machines' included, and refuses while there is one.
//
// # Subvolumes a job made
//
// A job may create subvolumes inside its cache (podman's btrfs driver
// does; it needs no privilege), nest them, snapshot its cache into
// itself and make any of its own subvolumes read-only. They are not part
// of later snapshots (a snapshot holds an empty directory in their
// place), but btrfs refuses to delete a subvolume holding others, which
// would pin their space out of retention's reach. Delete therefore finds
// them in the kernel's index, not by walking the cache's files (a cache
// holds 100,000 files and more): the ROOT_REF items of the root tree,
// one search per subvolume, and the INODE_REF items of the directories
// between a subvolume and the one holding it. It refuses while any of
// them is mounted anywhere, then deletes them by id
// (BTRFS_IOC_SNAP_DESTROY_V2 with BTRFS_SUBVOL_SPEC_BY_ID, Linux 5.7),
// deepest first. The entries of a read-only subvolume cannot change, so a
// read-only one holding others (the sealed snapshot itself, or one the
// job made read-only) is made writable first, and read-only again if a
// deletion fails. It is opened one directory at a time, following no
// symlink, so that no depth of directories a job made defeats it.
//
// # Quotas
//
// With btrfs quotas (qgroups) on, btrfs counts per subvolume the bytes it
// holds exclusively: shared with no other subvolume. List reports as each
// snapshot's Size (the default subvolume's too) that counter of its
// subvolume plus those of every subvolume nested in it, at any depth: a
// subvolume a job makes inside its cache (podman's btrfs storage driver
// does) is a qgroup of its own, and what the job writes there is still
// what its snapshot holds. List reads the counters in one search of the
// quota tree and the nesting in one search of the root tree (all its
// ROOT_REF items), whatever the number of snapshots and of subvolumes in
// them. Bytes that two subvolumes of one nest share (a job's snapshot of
// its cache inside it) are exclusive to neither and not counted. Size is
// 0 (not known) when quotas are off, while a rescan runs, and when btrfs
// marks the counters inconsistent. The counters move when btrfs commits
// a transaction (every 30 seconds, or at a sync), so a job's latest
// writes show late.
// A snapshot's exclusive bytes also grow without a write when a snapshot
// sharing its data is deleted: a job's snapshot holds its origin's cache
// alone once retention deletes the origin.
//
// Config.Quota bounds each new writable snapshot's exclusive bytes
// (BTRFS_QGROUP_LIMIT_MAX_EXCL on its qgroup, set by Create before the
// snapshot is returned): a job writing more gets EDQUOT inside its
// machine, and one job cannot fill the filesystem. New enables quotas
// (full accounting) when the Quota is set and they are off, and waits for
// the rescan btrfs then starts, since counters short of the data already
// there would loosen every limit; enabling on a filesystem that holds
// much can make that first start take a while. Snapshots made before
// quotas were on keep no limit. The limit is on exclusive bytes, which
// grow when an origin is deleted (above): a Quota smaller than a cache
// plus what a job writes makes that job's writes fail once retention
// deletes its origin. btrfs copies a subvolume's limits onto its
// snapshots: Copy's sealed copy and a sealed snapshot keep the limit,
// which bounds nothing on a read-only subvolume; each Create sets its own
// (or, with Quota 0 and quotas on, lifts the one it copied). Quotas cost
// btrfs some speed on every write (btrfs-quota(8)); the store enables
// them only for a Quota.
//
// What the limit does not bound: a subvolume a job creates inside its
// cache is a qgroup of its own, with no limit (full accounting puts a new
// subvolume in no parent qgroup), and a snapshot a job makes of its
// cache inside it gets a limit of its own. A job that makes them before
// it reaches its Quota can write past it (List's Size counts what it
// wrote there all the same); the filesystem may then fill, which the
// store survives (above), and Delete removes them with the snapshot.
// Only simple quotas (Linux 6.7) put a new subvolume into its parent's
// qgroups by themselves.
//
// # Usage
//
// DataPercent is df's figure: used / (used + available) of statfs, which
// on btrfs counts data and metadata together. MetadataPercent is 0:
// btrfs allocates metadata from the same device space, and reading its
// chunk allocation (`btrfs filesystem usage`) would cost a command for a
// figure the data watermark already bounds. DataBytes is the
// filesystem's size.
package btrfsstore
