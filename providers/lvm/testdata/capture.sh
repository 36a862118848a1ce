#!/bin/sh
# Captures the LVM reports, mount table, superblocks and blkid output that
# the parser tests in this package read. It must run as root inside a
# scratch kernel with device-mapper and four empty disks /dev/ubda../dev/ubdd,
# e.g. the User-Mode Linux kernel described in shared/TESTING.md:
#
#   truncate -s 4G a.img b.img c.img d.img
#   linux.uml mem=1G rootfstype=hostfs rootflags=/ rw ubd0=a.img ubd1=b.img \
#     ubd2=c.img ubd3=d.img init=/path/to/uml-init.sh con=null con0=null </dev/null
#
# where uml-init.sh mounts proc, sys, devtmpfs, tmpfs on /run and on
# /etc/lvm/{archive,backup} (the root is the host's own / over hostfs),
# exports DM_DISABLE_UDEV=1, loads dm-mod dm-bufio dm-persistent-data
# dm-bio-prison dm-thin-pool, runs `sh capture.sh OUTDIR` and halts.
# The field lists must stay those of report.go (a test checks).
set -eu
out=$1
mkdir -p "$out"
LVS="lvs --reportformat json --units b --nosuffix -o lv_uuid,lv_name,vg_name,lv_attr,lv_size,pool_lv,origin,lv_tags,lv_kernel_major,lv_kernel_minor,lv_metadata_size,chunk_size,discards,lv_when_full,lv_path,segtype"
VGS="vgs --reportformat json --units b --nosuffix -o vg_name,vg_uuid,vg_size,vg_free,vg_extent_size,vg_tags,lv_count,pv_count,vg_attr"
PVS="pvs --reportformat json --units b --nosuffix -o pv_name,pv_uuid,vg_name,pv_size,dev_size,pv_pe_count,pv_pe_alloc_count,pv_major,pv_minor,pv_attr"
# What apply reads back after changing one group: the group's fields and
# its PVs' in one vgs call, one row per PV.
VGPVS="vgs --reportformat json --units b --nosuffix -o vg_name,vg_uuid,vg_size,vg_free,vg_extent_size,vg_tags,lv_count,pv_count,vg_attr,pv_name,pv_uuid,pv_size,dev_size,pv_pe_count,pv_pe_alloc_count,pv_major,pv_minor,pv_attr"

# An empty host first.
$LVS >"$out/empty-lvs.json"
$VGS >"$out/empty-vgs.json"
$PVS >"$out/empty-pvs.json"

# vg0: rigplan's group on two disks, with its pool and volumes, plus things
# an operator made by hand. other: a group rigplan knows nothing about.
# ubdd: a PV in no group.
pvcreate -q /dev/ubda /dev/ubdb /dev/ubdc /dev/ubdd
vgcreate -q --addtag rigplan:managed --addtag rigplan:addr:volume_group.main --addtag team:ci vg0 /dev/ubda /dev/ubdb
vgcreate -q other /dev/ubdc
lvcreate -q --type thin-pool --size 1001M --addtag rigplan:managed --addtag rigplan:addr:thin_pool.cache --name cache vg0
lvchange -q --errorwhenfull y vg0/cache
lvcreate -q --type thin --virtualsize 300M --thinpool vg0/cache --name default \
  --addtag rigplan:managed --addtag rigplan:addr:volume.default --addtag 'rigplan:mkfs=-m&0Areflink=1' \
  --addtag rigplan:owner=1000:1000 --addtag rigplan:mode=0750
lvcreate -q --type thin --virtualsize 1G --thinpool vg0/cache --name node \
  --addtag rigplan:managed --addtag 'rigplan:addr:volume.caches&5B&22node&22&5D' --addtag rigplan:grow-from=536870912
lvcreate -q --type thin --virtualsize 300M --thinpool vg0/cache --name handmade
lvcreate -q --size 100M --name scratch vg0
lvcreate -q --size 100M --name data other
mkfs.xfs -q -m reflink=1 /dev/vg0/default
mkfs.btrfs -q /dev/vg0/node >/dev/null
mkfs.ext4 -q /dev/vg0/handmade
lvcreate -q --snapshot --name snap vg0/default
mkdir -p /run/capture-mnt
mount /dev/vg0/default /run/capture-mnt
$LVS >"$out/lvs.json"
$VGS >"$out/vgs.json"
$PVS >"$out/pvs.json"
cp /proc/self/mountinfo "$out/mountinfo.txt"
# Apply's narrow reads: one LV, one group with its PVs, and what LVM says
# (exit status and stderr) when the object is not there.
$LVS vg0/default >"$out/lvs-one.json"
$VGPVS vg0 >"$out/vgs-with-pvs.json"
$LVS vg0/nosuchlv >"$out/lvs-missing.json" 2>"$out/lvs-missing.stderr" || echo $? >"$out/lvs-missing.status"
$LVS nosuchvg/lv >"$out/lvs-missing-vg.json" 2>"$out/lvs-missing-vg.stderr" || echo $? >"$out/lvs-missing-vg.status"
$VGPVS nosuchvg >"$out/vgs-missing.json" 2>"$out/vgs-missing.stderr" || echo $? >"$out/vgs-missing.status"
umount /run/capture-mnt

# The first 68 KiB of each filesystem: enough for every superblock magic.
for lv in default:xfs node:btrfs handmade:ext4; do
	head -c 69632 "/dev/vg0/${lv%%:*}" | gzip -9n >"$out/superblock-${lv#*:}.gz"
done
head -c 69632 /dev/vg0/scratch | gzip -9n >"$out/superblock-none.gz"

# What blkid -p says about a disk with a filesystem.
vgremove -q -f other
pvremove -q /dev/ubdc
mkfs.ext4 -q /dev/ubdc
blkid -p -o export /dev/ubdc >"$out/blkid-ext4.txt"
