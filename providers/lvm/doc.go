// Package lvm is rigplan's LVM provider: the resource types volume_group,
// thin_pool and volume (a thin volume with a filesystem), driven through
// LVM's own commands and nothing else.
//
// # State lives in LVM tags
//
// rigplan keeps no state file. Everything this provider creates carries
// the tags
//
//	rigplan:managed
//	rigplan:addr:<address>          e.g. rigplan:addr:volume.caches&5B&22node&22&5D
//
// where the address is encoded into LVM's tag alphabet by internal/lvmtag
// (reversibly; an address too long for a 128-character tag is refused at
// plan time). Refresh finds rigplan's objects by these marks and reports an
// object the configuration names but that lacks the mark as unmanaged,
// which the planner refuses to touch. A mark without an address, with an
// unreadable one, or with an address of the wrong type is reported as a
// warning and the object left alone. Other tags starting with "rigplan:"
// belong to other parts of rigplan (the cache agent) and are neither ours
// nor the user's; user tags may not start with "rigplan:".
//
// Facts that cannot be read back cheaply are recorded in tags too:
//
//	rigplan:owner=UID:GID     owner applied to a volume's root directory
//	rigplan:mode=0750         its mode
//	rigplan:mkfs=<encoded>    the mkfs options it was made with
//	rigplan:grow-from=BYTES   a grow in progress (see below)
//	rigplan:unfinished        a volume whose creation has not ended (see below)
//
// Owner and mode live in tags because reading them needs a mount, and
// refresh must stay at three commands whatever the number of volumes. The
// tags are written only after chown/chmod succeeded, so a missing or
// stale tag shows as a diff and the next apply sets the owner again. The
// cost: a chown made by hand behind rigplan's back is not seen. mkfs
// options cannot be read from a filesystem at all; recording them makes a
// change of mkfs_options a visible replacement instead of being ignored.
//
// # Refresh: three commands
//
// Refresh runs exactly one lvs, one vgs and one pvs (JSON reports in
// bytes, explicit field lists), concurrently, whatever the configuration
// holds. Their output is parsed by pure functions tested against real
// output captured in the UML kernel (testdata/README.md). lv_attr is
// decoded by a table of every documented value; an unknown value is an
// error rather than a guess. A volume's filesystem is read from its
// superblock in Go (xfs "XFSB" at 0, ext2/3/4 0xEF53 at 1080 with feature
// flags telling ext4 apart, btrfs "_BHRfS_M" at 65600), not with blkid.
// An inactive volume cannot be read; it is assumed to hold the configured
// filesystem and a warning says how to activate it.
//
// # Sizes and LVM's rounding
//
// Measured with lvm2 2.03.16 on Linux 6.1 (see rounding_test.go for the
// cases): lvcreate -L (thin pool data), -V (thin volume) and lvextend round
// a size up to whole physical extents; --poolmetadatasize is raised to at
// least 2 MiB, then rounded up to whole extents, and anything above
// 16646400 KiB (<15.88 GiB) is reduced to that. Chunk sizes are not
// rounded but must be multiples of 64 KiB from 64 KiB to 1 GiB, and an
// extent size must be a power of two of at least 1 KiB or a multiple of
// 128 KiB; both are validated instead. rigplan rounds sizes itself and
// passes LVM exact byte counts ("--size 1052770304b"), so that what the
// plan says is what LVM makes, and compares sizes after rounding: "1001M"
// and "1004M" are the same pool with 4 MiB extents. When the configured
// size rounds to the actual one, refresh and plan keep the
// configuration's spelling, so an applied configuration never shows a
// diff. Likewise devices are compared by device number after resolving
// symlinks, so /dev/disk/by-id names match the /dev/sdX that LVM reports.
//
// Sizes use LVM's units (K/M/G/T/P binary) plus KiB…PiB and decimal
// KB…PB, and a bare number is refused (internal/bytesize).
//
// # What is changed in place, and what is refused
//
// In place: tags everywhere; a group's devices (pvcreate + vgextend,
// vgreduce + pvremove); a pool's size and metadata size (growing only),
// discards, error_when_full; a volume's size (lvextend, then xfs_growfs,
// resize2fs or btrfs filesystem resize max — through the volume's mount
// point when /proc/self/mountinfo shows one for its major:minor, else in a
// temporary mount), owner and mode. Temporary mounts are made inside
// `unshare --mount --propagation private`: invisible to the rest of the
// host and gone when the command ends, even if rigplan is killed. xfs is
// mounted with nouuid there, because thin snapshots share the origin's
// UUID.
//
// Shrinking a pool, its metadata or a volume is a replacement (LVM cannot
// shrink thin pools; filesystems cannot shrink safely), as is a change of
// name, group, pool, extent size, chunk size, filesystem or mkfs options.
// The planner's data guard then asks for explicit consent.
//
// Refused with an error that names the object and what to do:
//
//   - a device that does not exist, is not a block device, is a PV of
//     another volume group, or holds any signature libblkid knows
//     (filesystem, partition table, RAID, LUKS…): rigplan never wipes a
//     disk and prints the wipefs command for the operator to run if the
//     data is expendable;
//   - removing a device whose PV still has allocated extents (pvmove
//     first);
//   - deleting or replacing a volume group or pool that holds logical
//     volumes the plan does not also delete (unmanaged volumes, cache
//     snapshots, managed volumes still configured), all listed. The
//     planner does not ask providers to plan deletions, so Refresh reports
//     this for objects gone from the configuration; Plan does it for
//     replacements and for a null config; Apply checks again, in the run's
//     view, before it removes anything;
//   - switching discards to or from "ignore" on an active pool (LVM
//     requires the pool inactive);
//   - xfs volumes below 300M (mkfs.xfs refuses) and btrfs volumes below
//     256M (btrfs cannot resize them, so they could never grow).
//
// # Never prompting, never forcing
//
// LVM asks before destructive steps and reads the answer from stdin, which
// is always empty here, so every question is answered "no". rigplan
// therefore never passes --yes or --force: pvcreate stops on a signature,
// vgremove on a group with LVs, lvremove on a pool with volumes. Volumes
// and pools are deactivated before lvremove (an inactive LV is removed
// without a question); a mounted volume cannot be deactivated, so it is
// never removed. mkfs gets no force flag either.
//
// # Failures leave a state the next plan describes
//
// A volume whose mkfs or owner step fails after lvcreate is removed again.
// Should rigplan itself stop in between (killed, the host down), the
// volume keeps the rigplan:unfinished tag that lvcreate gave it and that
// the lvchange recording its owner removes: it is rigplan's half-made
// work and holds nobody's data. Without a filesystem, the next plan shows
// it as an update (filesystem null -> the configured one), and apply
// removes it and creates it again, which the data guard does not stop as
// it would the replacement a missing filesystem otherwise forces; with
// its filesystem made, apply sets the owner and removes the tag. Either
// way the plan says so in a warning.
//
// A volume group whose vgcreate fails gets the PV labels rigplan just
// wrote removed. A grow sets rigplan:grow-from before lvextend and removes
// it once the filesystem has grown, so an interrupted grow is reported at
// the filesystem's old size and finished by the next apply. lvcreate does
// not accept --errorwhenfull for thin pools, so it is set right after; if
// that fails, the pool exists and the next plan shows the setting to fix.
//
// # One read of the host per run
//
// A provider lives for one CLI run: Refresh, then Plan for each instance,
// then Apply for each change (the planner plans again at apply time what
// depended on objects not made yet). Refresh's three reports are the run's
// view of LVM. Plan checks every change against it, and Apply acts on it
// without reading the host again: the object still carries the
// instance's mark and UUID, which devices are PVs already, the extent size
// that sizes are rounded to, whether a pool or group is empty. What may
// have changed on the host since is caught by LVM itself, which is never
// told yes (above): pvcreate stops on a signature, vgcreate and vgextend
// on a PV of another group, lvremove on a pool with volumes, vgremove on a
// group with LVs, lvchange -an on a mounted volume, each with its stderr in
// the error. What it does not catch: an unmounted volume replaced by hand
// under the same name between plan and apply is deleted by a delete that
// was planned for the old one.
//
// After a change Apply reads back only the object it changed, with one
// narrow report parsed by the same parsers: `lvs VG/LV` for a pool or a
// volume, `vgs VG` asking for the PV fields too (a row per PV) for a
// group; after a delete, nothing (lvremove's exit status says it is gone).
// The row read back replaces the object's in the view, so later plans and
// applies of the run see the change: a pool is sized in extents of the
// group just made, and a pool being deleted is empty once its volumes
// were. A failed Apply drops the view (its side effects may reach beyond
// the object read back); the next Plan or Apply of the run reads the whole
// host again. blkid's answer for a device is remembered for the run, so a
// device planned twice (a replacement, a replan) is probed once.
//
// What a change costs in commands, measured by the lvmtest package:
// creating a group is pvcreate per new device, vgcreate and one vgs; a
// pool is lvcreate, lvchange --errorwhenfull and one lvs; a volume is
// lvcreate, mkfs, one unshare for the owner, lvchange recording it and
// one lvs; changing tags is one vgchange or lvchange and one read-back;
// deleting a volume or pool is lvchange -an and lvremove, a group vgremove
// and pvremove.
package lvm
