package btrfsstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// btrfs quotas (qgroups) count, per subvolume, the bytes it references
// and those it holds exclusively (shared with no other subvolume), and
// can refuse writes past a limit on either. The store reads the
// exclusive counters for Snapshot.Size and limits each new writable
// snapshot's exclusive bytes to Config.Quota. See "Quotas" in the package
// doc.

// quotasOn reports whether quotas are enabled on the filesystem holding
// the directory open as fsDir: the quota tree exists only then.
func quotasOn(fsDir *os.File) (bool, error) {
	key := searchKey{
		treeID:     quotaTreeObjectID,
		minType:    qgroupStatusKey,
		maxType:    qgroupStatusKey,
		maxTransID: math.MaxUint64,
	}
	err := treeSearch(fsDir, key, func(uint64, uint32, uint64, []byte) error { return nil })
	switch {
	case errors.Is(err, unix.ENOENT):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read the btrfs quota status: %w", err)
	}
	return true, nil
}

// enableQuotas turns quotas on (full accounting) and waits for the
// rescan the kernel starts then, which counts what the filesystem holds
// already: until it ends the counters are short, and so limits are
// loose.
func enableQuotas(fsDir *os.File) error {
	a := quotaCtlArgs{cmd: quotaCtlEnable}
	if err := ioctl(fsDir.Fd(), iocQuotaCtl, unsafe.Pointer(&a)); err != nil {
		return fmt.Errorf("enable btrfs quotas: %w", err)
	}
	if err := ioctl(fsDir.Fd(), iocRescanWait, nil); err != nil {
		return fmt.Errorf("wait for the btrfs quota rescan: %w", err)
	}
	return nil
}

// limitExclusive limits the bytes the subvolume open as sub may hold
// exclusively to max, or lifts that limit when max is 0. The limit is
// kept in memory at once and written with the next transaction; it needs
// no free space.
func limitExclusive(sub *os.File, max int64) error {
	a := qgroupLimitArgs{flags: qgroupLimitMaxExcl, maxExcl: uint64(max)}
	if max == 0 {
		a.maxExcl = qgroupLimitClearValue
	}
	return ioctl(sub.Fd(), iocQgroupLimit, unsafe.Pointer(&a))
}

// exclusiveBytes returns the exclusive counter of every level-0 qgroup
// (one per subvolume, by subvolume id), read in one search of the quota
// tree. It returns nil when the counters are not to be trusted: quotas
// off, a rescan running, or btrfs marking them inconsistent.
func exclusiveBytes(fsDir *os.File) (map[uint64]int64, error) {
	var rescan rescanArgs
	if err := ioctl(fsDir.Fd(), iocRescanStatus, unsafe.Pointer(&rescan)); err != nil {
		return nil, fmt.Errorf("read the btrfs quota rescan status: %w", err)
	}
	if rescan.flags != 0 {
		return nil, nil
	}
	key := searchKey{
		treeID:     quotaTreeObjectID,
		minType:    qgroupStatusKey,
		maxType:    qgroupInfoKey,
		maxOffset:  1<<48 - 1, // level 0: qgroup ids below 1/0
		maxTransID: math.MaxUint64,
	}
	out := map[uint64]int64{}
	trusted := false
	err := treeSearch(fsDir, key, func(objectID uint64, typ uint32, offset uint64, item []byte) error {
		switch {
		case objectID != 0:
		case typ == qgroupStatusKey && len(item) >= 24:
			// struct btrfs_qgroup_status_item: version, generation, flags, ...
			flags := binary.LittleEndian.Uint64(item[16:])
			trusted = flags&(qgroupStatusRescan|qgroupStatusInconsist) == 0
		case typ == qgroupInfoKey && len(item) >= 32:
			// struct btrfs_qgroup_info_item: generation, rfer, rfer_cmpr, excl, excl_cmpr.
			out[offset] = int64(binary.LittleEndian.Uint64(item[24:]))
		}
		return nil
	})
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil, nil // quotas are off
	case err != nil:
		return nil, fmt.Errorf("read the btrfs quota groups: %w", err)
	case !trusted:
		return nil, nil
	}
	return out, nil
}

// ensureQuotas enables quotas on the filesystem of dir unless they are on.
func ensureQuotas(dir string) error {
	d, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	on, err := quotasOn(d)
	if err != nil || on {
		return err
	}
	return enableQuotas(d)
}

// limit gives the new writable snapshot name its bound (Config.Quota).
// btrfs copies the origin's limits onto a snapshot, so with no bound
// configured it lifts the exclusive limit the snapshot may have copied.
func (s *Store) limit(name string) error {
	f, err := os.OpenFile(s.path(name), os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	err = limitExclusive(f, s.quota)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENOTCONN) && s.quota == 0:
		return nil // quotas are off: no limit to lift
	case errors.Is(err, unix.ENOTCONN):
		return fmt.Errorf("limit it to %d bytes of its own: btrfs quotas are off on the filesystem of %s, which the store's quota needs (were they disabled after the agent started?): enable them with btrfs quota enable %s, or restart the agent", s.quota, s.dir, s.dir)
	}
	return fmt.Errorf("limit it to %d bytes of its own: %w", s.quota, err)
}

// sizes returns, by name, the bytes the default subvolume and each
// subvolume in the store's directory hold exclusively, each with every
// subvolume nested in it at any depth (those its job made: each is a
// qgroup of its own), or nil when they are not known (see
// exclusiveBytes). Two tree searches, whatever the number of snapshots
// and of subvolumes inside them: the quota tree, and every ROOT_REF item
// of the root tree, for the subvolumes' ids and their nesting.
func (s *Store) sizes() (map[string]int64, error) {
	d, err := os.OpenFile(s.dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	excl, err := exclusiveBytes(d)
	if err != nil || excl == nil {
		return nil, err
	}
	tree, err := subvolumeID(d)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(d.Fd()), &st); err != nil {
		return nil, err
	}
	children, err := allChildRefs(d)
	if err != nil {
		return nil, fmt.Errorf("read the subvolumes of the filesystem of %s: %w", s.dir, err)
	}
	out := map[string]int64{}
	for _, r := range children[tree] {
		if r.dirID == st.Ino {
			out[r.name] = nestedExclusive(excl, children, r.id)
		}
	}
	if f, err := os.OpenFile(s.defPath, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0); err == nil {
		if id, err := subvolumeID(f); err == nil {
			out[s.defName] = nestedExclusive(excl, children, id)
		}
		f.Close()
	}
	return out, nil
}

// nestedExclusive sums the exclusive bytes of subvolume id and of every
// subvolume nested in it. Bytes two of them share (a job's snapshot of
// its own cache inside it) are exclusive to neither and not counted: an
// undercount, where a qgroup of the whole nest would count them once.
func nestedExclusive(excl map[uint64]int64, children map[uint64][]rootRef, id uint64) int64 {
	var sum int64
	seen := map[uint64]bool{}
	stack := []uint64{id}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[v] {
			continue // the root tree is a tree; this only guards the walk
		}
		seen[v] = true
		sum += excl[v]
		for _, c := range children[v] {
			stack = append(stack, c.id)
		}
	}
	return sum
}
