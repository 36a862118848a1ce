package lvmstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// What LVM and dm-thin do when the thin pool has no room, as seen in the
// test kernel (Linux 6.1, LVM 2.03.16; TestFullData, TestFullMetadata):
//
//   - At 100% data, dm-thin fails every write that needs a new chunk
//     (error_when_full; a pool set to queue holds them for up to its
//     no_space_timeout, 60 s by default, as dm-thin documents; not tried
//     here) and lvs shows health D. lvcreate
//     of a thin snapshot then fails: "Cannot create new thin volume, free
//     space in thin pool VG/POOL reached threshold." lvchange --addtag,
//     --deltag, --activate y and n, and lvremove still work, and the
//     first lvremove returns the pool to write mode.
//   - LVM refuses new thin volumes with the same words once the pool's
//     metadata has less than 4 MiB or a quarter of it free, long before
//     it is exhausted. When it is exhausted, dm-thin makes the metadata
//     read-only (health M), and lvremove breaks: it drops the LV from
//     the volume group, then fails ("Cannot send messages to thin pool
//     … with read only metadata") to free it in the pool. Tags and
//     (de)activation still work. lvextend --poolmetadatasize returns the
//     pool to write mode, unless dm-thin also flagged the metadata for a
//     check (state c in lv_attr: an allocation failed inside a
//     transaction), which only lvconvert --repair of the inactive pool
//     clears.

// metadataFullPercent is the metadata use at or over which read-only
// metadata means exhausted rather than damaged: dm-thin keeps at most
// a tenth of it in reserve, and switches the pool to read-only once
// only the reserve is left.
const metadataFullPercent = 90

// poolView is the default volume's thin pool as a report shows it.
type poolView struct {
	name  string // the LV name
	id    string // VG/POOL
	attr  lvAttr
	usage store.Usage
}

// pool finds the default volume's thin pool in a report.
func (s *Store) pool(rows []row) (poolView, error) {
	find := func(name string) *row {
		for i := range rows {
			if rows[i].VG == s.vg && rows[i].Name == name {
				return &rows[i]
			}
		}
		return nil
	}
	d := find(s.def)
	if d == nil {
		return poolView{}, fmt.Errorf("default volume %s not found: create it (rigplan apply) or point the cache at an existing thin volume", s.defID())
	}
	if d.Pool == "" {
		return poolView{}, fmt.Errorf("default volume %s is in no thin pool: point the cache at a thin volume", s.defID())
	}
	s.learned.setPool(d.Pool)
	p := find(d.Pool)
	if p == nil {
		return poolView{}, fmt.Errorf("thin pool %s of the default volume is missing from the lvs report", s.id(d.Pool))
	}
	a, err := p.attr()
	if err != nil {
		return poolView{}, err
	}
	if !a.thinPool() {
		return poolView{}, fmt.Errorf("%s, the default volume's pool, is not a thin pool (lv_attr %s)", s.id(p.Name), a.raw)
	}
	if p.DataPercent < 0 || p.MetadataPercent < 0 {
		return poolView{}, fmt.Errorf("thin pool %s reports no usage: it is not active; activate it (lvchange --activate y %s)", s.id(p.Name), s.id(p.Name))
	}
	return poolView{
		name:  p.Name,
		id:    s.id(p.Name),
		attr:  a,
		usage: store.Usage{DataPercent: p.DataPercent, MetadataPercent: p.MetadataPercent, DataBytes: p.Size, SizesLowerBound: true},
	}, nil
}

// dataFull reports whether the pool has no free data chunk.
func (p poolView) dataFull() bool { return p.attr.health == 'D' || p.usage.DataPercent >= 100 }

// metadataFull reports whether the pool's metadata is exhausted.
func (p poolView) metadataFull() bool {
	return p.attr.health == 'M' && p.usage.MetadataPercent >= metadataFullPercent || p.usage.MetadataPercent >= 100
}

// full says why the pool has no room, or "" when it has.
func (p poolView) full() string {
	switch {
	case p.dataFull():
		return fmt.Sprintf("no free data space: delete cache snapshots (the agent's retention does, at its data watermarks) or grow the pool (lvextend --size +SIZE %s)", p.id)
	case p.metadataFull():
		return "no free metadata space: " + p.metadataFix()
	}
	return ""
}

// metadataFix says what an operator does about exhausted metadata.
func (p poolView) metadataFix() string {
	msg := fmt.Sprintf("grow it (lvextend --poolmetadatasize +SIZE %s)", p.id)
	if p.attr.needsCheck() {
		msg = fmt.Sprintf("dm-thin flagged it for a check, so first deactivate the pool's volumes and the pool and run lvconvert --repair %s (lvmthin(7)), then %s", p.id, msg)
	}
	return msg
}

// fullError is the FullError for the pool p (nil when it could not be
// read), saying why it has no room.
func (s *Store) fullError(p *poolView, why string, err error) *store.FullError {
	fe := &store.FullError{Store: s.Describe(), Err: err}
	if why != "" {
		fe.Err = fmt.Errorf("%s: %w", why, err)
	}
	if p != nil {
		fe.Store, fe.Usage = "thin pool "+p.id, &p.usage
	}
	return fe
}

// lvmRefusesNew is how LVM says it will not make a thin volume in a pool
// short of room: at 100% data (or over activation/thin_pool_autoextend_
// threshold), or with too little metadata free.
const lvmRefusesNew = "reached threshold"

// noRoom returns err as a *store.FullError when the operation failed for
// lack of room in the thin pool, and err itself otherwise. LVM's refusal
// of a new thin volume says so itself; a write that failed (ENOSPC, EIO,
// EROFS, LVM's read-only metadata) is for lack of room only when the
// pool is full, so noRoom reads the pool (one lvs, only on this failure
// path) to tell. The report is made even when ctx has ended: it is what
// explains a failure the caller is about to see.
func (s *Store) noRoom(ctx context.Context, err error) error {
	refused := false
	var e *sysexec.Error
	switch {
	case errors.As(err, &e) && strings.Contains(e.Stderr, lvmRefusesNew):
		refused = true
	case errors.As(err, &e) && strings.Contains(e.Stderr, "read only metadata"),
		errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EIO), errors.Is(err, unix.EROFS):
	default:
		return err
	}
	var p *poolView
	why := ""
	if rows, rerr := s.report(context.WithoutCancel(ctx), s.vg); rerr == nil {
		if v, perr := s.pool(rows); perr == nil {
			p, why = &v, v.full()
		}
	}
	switch {
	case why != "":
		return s.fullError(p, why, err)
	case refused:
		// Short of full: over LVM's thresholds.
		id := "VG/POOL"
		if p != nil {
			id = p.id
		}
		why = fmt.Sprintf("LVM makes no new thin volume in it: its data is over activation/thin_pool_autoextend_threshold, or less than 4 MiB or a quarter of its metadata is free; delete cache snapshots, or grow the pool (lvextend --size +SIZE %s) or its metadata (lvextend --poolmetadatasize +SIZE %s)", id, id)
		return s.fullError(p, why, err)
	}
	return err
}

// canRemove refuses to lvremove from a pool whose metadata is read-only:
// LVM's lvremove would drop the LV from the volume group, then fail to
// free it in the pool, so the snapshot would vanish from List while its
// space stays taken, and retention, deleting one snapshot after another
// for space it never gets, would empty the cache. Refused, it stays
// listed and deletable once the pool has room.
func (s *Store) canRemove(p poolView) error {
	switch {
	case p.attr.health != 'M' && p.attr.health != 'F':
		return nil
	case p.metadataFull():
		return s.fullError(&p, "no free metadata space, and LVM cannot remove a thin volume from a pool whose metadata is read-only: "+p.metadataFix(),
			fmt.Errorf("thin pool %s: lv_attr %s", p.id, p.attr.raw))
	case p.attr.health == 'F':
		return fmt.Errorf("thin pool %s has failed (lv_attr %s): LVM cannot remove thin volumes from it; repair it (lvconvert --repair %s, lvmthin(7))", p.id, p.attr.raw, p.id)
	}
	return fmt.Errorf("thin pool %s has read-only metadata (lv_attr %s, metadata %.1f%% used): LVM cannot remove thin volumes from it; repair it (lvconvert --repair %s, lvmthin(7))", p.id, p.attr.raw, p.usage.MetadataPercent, p.id)
}
