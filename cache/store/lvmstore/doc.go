// Package lvmstore keeps the cache agent's snapshots as LVM thin snapshots
// of a default volume, with all their state in LV tags: the volume group
// is the database, as in the original lvm-cache-friend setup.
//
// # Tags
//
// Every tag starts with the configured namespace NS (default "rigplan";
// "friend" gives the original setup's friend:snapshot and
// friend:cache:TERM):
//
//	NS:snapshot                 membership: an LV without it is not the store's
//	NS:state:pending            being created (or left by a crash)
//	NS:state:in-use             mounted in a live machine
//	NS:state:sealed             a candidate origin
//	NS:created:<RFC 3339, ns>   e.g. NS:created:2024-05-01T12:00:00.123456789Z
//	NS:machine:<encoded>        the machine it is (or was) mounted in
//	NS:cache:<encoded term>     one per annotation term
//	NS:mapped:<bytes>           what a sealed snapshot maps in the pool (see Sizes)
//	NS:base:<bytes>             what its origin mapped when it was made (see Sizes)
//
// Terms and machine names are encoded by lvmtag.EncodeTerm with a max of
// TermMax (96) bytes, whatever the namespace, so that a term hashed by
// one release is hashed the same by the next: "refs/heads/ü" is kept as
// refs/heads/&C3&BC, a 300-character hash as its first 30 characters,
// "&#" and the SHA-256 of the whole. The namespace is at most 23 bytes,
// so every tag fits lvmtag.MaxTagLen. Store.Term and List give a hashed
// term in its encoded form and every other term as written.
//
// A member whose tags are not what the store writes (no state, two
// states, an unreadable time or term) is listed Pending, so retention
// deletes it like anything a crash leaves. An LV with the membership tag
// that is not a thin volume is not listed at all: the store did not make
// it and will not delete it. Unknown tag kinds in the namespace are
// ignored, for later releases. A size tag (mapped, base) that is not
// what the store writes makes that figure unknown and nothing else: it
// is a measurement, and the snapshot is as good a cache as before.
//
// The default volume is named by the configuration ("VG/LV"), carries no
// tag of the store's, and is never deleted, changed or mounted by it
// (store.ErrDefault). Snapshots live in its volume group and thin pool.
//
// # Commands per operation
//
// Measured with sysexec.Counter in the test kernel (TestCommandCounts);
// none depends on the number of snapshots or on what the origin holds:
//
//	List       1  lvs (JSON report of the volume group)
//	Usage      1  the same lvs: the default volume's pool's data_percent, metadata_percent
//	Create     1  lvcreate --snapshot, with every tag and the activation
//	Mount      0  mount(2); 1 more (lvchange --activate y) if the snapshot is inactive
//	SetState   1  lvchange --addtag/--deltag; sealing runs lvs (what it maps) and
//	              lvchange --activate n first: 3
//	Copy       2  lvs (what the mounted snapshot maps), lvcreate --snapshot of it,
//	              tagged sealed, not activated
//	Delete     2-3  lvs (is it ours? open? can its pool remove it?), lvchange --activate n
//	                if active, lvremove
//	Unmount    0  umount(2)
//	Busy       1  lvs: lv_attr's open bit (store.BusyChecker), which sees mounts in
//	              every namespace and lazily unmounted filesystems still held
//
// The mount's path (Create, Mount, SetState in-use) runs no lvs: Create
// takes its origin's figure for the base tag from the last List.
//
// List, Usage and Delete's check share one lvs field list and one parser,
// tested on real output captured in the test kernel (testdata/README.md).
// An operation that fails in a way a full pool explains (below) runs one
// more lvs, to tell and to report the pool's use.
//
// # Sizes
//
// Space retention deletes sealed caches only for the part of the pool's
// use that the snapshots in use do not hold (their store.Snapshot.Size,
// package cache/retention): without sizes, a job filling the pool
// through its cache would make retention delete every other job's
// sealed cache for space only that job gives back (TestHostileLVMRetention
// in cache/agent/lvmagent).
//
// A snapshot's Size is what it maps beyond its origin: mapped(snapshot)
// less mapped(origin), at least 0, where a thin volume's mapped bytes
// are its data_percent of its lv_size. A thin snapshot maps exactly its
// origin's blocks when it is made; what its job writes to regions the
// origin never mapped adds to it (TestSize: 64 MiB of new files give a
// Size of 63.9 MiB). It is a lower bound of what the snapshot holds
// alone: a write over a block shared with the origin gets a block of its
// own (copy on write) without mapping more, so a job that rewrites its
// origin's files in place holds more than its Size says, and a discard
// (fstrim, the discard mount option) maps less. lvs prints data_percent
// to 0.01%, so each figure is within 0.005% of the volume (about 107 KiB
// of 2 GiB). Only thin_ls on a metadata snapshot counts a thin volume's
// exclusive blocks, by reading the pool's whole metadata: not something
// for every List. For a sealed snapshot, Size is what retention expects
// its deletion to free; blocks its own snapshots share with it stay.
//
// lvs reports data use only for active thin volumes, and sealed snapshots
// are inactive. Each figure therefore comes from:
//
//   - an active LV (in use, pending, the default volume): its data use in
//     List's one report;
//   - a sealed snapshot: its NS:mapped tag. SetState(Sealed) reads the
//     snapshot's data use (one lvs) before it deactivates it, and writes
//     the tag in the lvchange that tags it sealed, replacing any other;
//     nothing writes to a sealed snapshot, so it stays true. Copy tags
//     its copy (never active) the same way, from the job's snapshot just
//     before the lvcreate: what the job writes to new regions in that
//     instant is in the copy but not in the figure, and snapshots of the
//     copy are reported that much larger;
//   - the origin: the snapshot's NS:base tag, else what the origin maps
//     now while LVM still names it (the origin field). Create writes the
//     base from what the origin mapped at the store's last List, kept in
//     memory for the default volume and the sealed snapshots (figures
//     that do not change), so the mount's path runs no lvs; Copy writes
//     the copy's own figure. The base outlives the origin: a job's
//     snapshot whose origin retention deleted holds what it wrote all
//     the same (and the origin's blocks besides, now its own alone).
//
// Without a figure (a snapshot sealed by an earlier release, an inactive
// in-use one after a crash, a seal retried once the deactivation had
// worked, a base the store had not seen: an origin it has neither listed
// nor sealed nor saved since it started) Size is 0, as before:
// retention counts none of that snapshot's space as held.
//
// # A full pool
//
// What a full thin pool does was found in the test kernel (full.go has
// the details): at 100% data dm-thin fails the job's writes (with
// error_when_full, as the project's pools have it; a pool set to queue
// holds them for up to dm-thin's no_space_timeout, 60 s by default, then
// fails them, as dm-thin documents; not tried here), and LVM makes no
// new thin volume. LVM also refuses new
// thin volumes once the metadata has less than 4 MiB or a quarter of it
// free; exhausted, the metadata turns read-only.
//
// Every operation that fails for lack of room returns a *store.FullError
// (errors.Is(err, store.ErrFull)) naming the pool ("thin pool VG/POOL",
// as Describe does once a report has shown the pool's name, so that the
// agent's own refusal of a full store names it alike) with its use and
// saying what to do: Create and Copy (LVM's refusal, or
// Copy's syncfs of writes the pool could not take), Mount (xfs writes its
// log on mount, which fails ENOSPC), Delete at exhausted metadata. A
// write error (ENOSPC, EIO, EROFS) is a FullError only when the pool is
// full at that moment; LVM's own refusal always is. None of these leaves
// anything List reports wrongly: LVM refuses a new thin volume before
// making anything.
//
// Sealing does not depend on room: tags live in the volume group's
// metadata, not the pool's, and deactivation writes nothing once the
// filesystem is unmounted, so SetState(Sealed) works at 100% data and at
// exhausted metadata (TestFullData, TestFullMetadata; storetest.RunFull
// holds both stores to it). Deleting frees the pool: at 100% data,
// lvremove works and returns the pool to write mode, and Create works
// again. A sealed snapshot the job filled the pool through is a
// candidate like any other, with whatever of its writes reached the pool.
//
// Removal does depend on metadata room. With the metadata read-only,
// LVM's lvremove drops the LV from the volume group and then fails to
// free it in the pool, so a retention run deleting for space would empty
// the cache and free nothing. Delete therefore reads the pool with the
// LV and refuses, with a FullError and without running lvremove, while
// the pool's metadata is read-only; the snapshot stays listed. Only the
// operator heals that: lvextend --poolmetadatasize (then Delete and
// Create work again, TestFullMetadata), or first lvconvert --repair when
// dm-thin flagged the metadata for a check (an allocation failed inside
// a transaction: lv_attr's state c).
//
// A job cannot write more than its snapshot's virtual size, the default
// volume's: that is the per-job bound on LVM (its filesystem fills and
// says ENOSPC to the job). Several jobs, or a default volume larger than
// the pool's free space, can still fill the pool; retention's watermarks
// keep it from getting there, and this section is for when they did not.
//
// # Crash safety
//
// Create is one lvcreate that writes the new LV with all its tags,
// NS:state:pending among them, in one metadata commit, then activates it:
// there is never an untagged snapshot. Killed at any point, it leaves
// nothing or a pending LV (active or not), which the agent deletes at
// start-up (TestCreateKilledLeavesOnlyPending kills lvcreate at points
// through its run; TestAgentKilledDuringCreate kills the calling process,
// whose lvcreate then finishes on its own).
//
// The store never kills an LVM command it started when the caller's
// context ends: a thin snapshot of an active origin suspends the origin,
// and lvcreate killed inside that window leaves it suspended, hanging
// every write to it (observed in the test kernel). Only each command's
// own timeout (Config.CommandTimeout) ends it early. For the same reason
// a service running the agent should stop it with systemd's
// KillMode=mixed, so that a running lvcreate is not killed with it.
//
// Sealing deactivates a snapshot, so a snapshot of a sealed origin needs
// no suspend at all, and sealed snapshots do not hold device-mapper
// devices. Snapshots are created with LVM's activation-skip flag (-ky)
// and activated despite it (-K), so the hundreds a busy host holds are
// not all activated at boot.
//
// # No privilege from a cache
//
// A job writes anything into its snapshot, setuid-root binaries and
// device nodes included. Mount always mounts nosuid,nodev
// (MS_NOSUID|MS_NODEV), on top of the configured mount options, so
// nothing in a cache raises a host user's euid or opens a host device,
// and the agent's clone of this mount into a machine inherits both flags
// (a test runs a setuid-root id(1) from the mount as uid 65534, in
// storetest). Config.MountOptions are filesystem options, passed to
// mount(2) as its data; mount(8)'s flag words (suid, dev, noatime,
// defaults, …) would make xfs and ext4 fail the mount with EINVAL, so New
// refuses them with a message saying why.
//
// # Filesystems
//
// Mount reads the snapshot's superblock. xfs is mounted with nouuid
// (every thin snapshot of an xfs volume has its UUID); ext4 needs
// nothing; btrfs is refused with an error saying why and what to do: a
// thin snapshot of btrfs shares the origin's fsid, and the kernel takes
// the two for devices of one filesystem (Linux 6.1 fails the mount with
// EEXIST while the origin is mounted). Use the btrfs store for btrfs.
//
// Copy (the job's save) syncs the mounted filesystem (syncfs) and lets
// LVM freeze it: device-mapper's suspend of the origin freezes the
// filesystem on it (lockfs) for the instant of the snapshot, so data
// written but not synced before save is in the copy (a test checks).
// The store does not FIFREEZE it itself: LVM's suspend then fails with
// EBUSY ("Failed to suspend thin snapshot origin"), and a crash between
// freeze and thaw would leave the job's filesystem frozen.
//
// # Never prompting
//
// LVM asks before destructive steps and reads the answer from stdin,
// which is always empty here, so any question is answered "no". The store
// never passes --yes or --force: it deactivates before lvremove (an
// inactive LV is removed without a question) and refuses to delete an
// open LV or an LV without its membership tag.
package lvmstore
