package lvm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rigplan/rigplan/providers"
)

func (a *applier) applyVolume(ctx context.Context) *providers.ApplyResponse {
	pool := a.str("thin_pool")
	vg, poolName, _ := splitPoolID(pool)
	name := a.str("name")
	switch a.req.Action {
	case providers.Create:
		if !a.createVolume(ctx, vg, poolName, name) {
			return a.respondGone(vg, name)
		}
	case providers.Update:
		a.updateVolume(ctx, vg, name)
	case providers.Delete:
		if a.deleteLV(ctx, vg, name, false) {
			return a.respondGone(vg, name)
		}
	}
	return a.respondLV(ctx, vg, name)
}

// owner is the uid, gid and mode a volume's root should have.
type owner struct {
	uid, gid int64
	mode     string // "" to keep mkfs's
}

func (a *applier) wantOwner() owner {
	var o owner
	if v := a.req.Planned.GetAttr("uid"); !v.IsNull() {
		o.uid, _ = v.AsBigFloat().Int64()
	}
	if v := a.req.Planned.GetAttr("gid"); !v.IsNull() {
		o.gid, _ = v.AsBigFloat().Int64()
	}
	o.mode, _ = stringOf(a.req.Planned.GetAttr("mode"))
	return o
}

// createVolume makes the thin volume, its filesystem and its root's owner.
// If any step after lvcreate fails, the new volume is removed again, so a
// failed create leaves nothing half-made behind; should rigplan itself be
// stopped in between, the volume keeps the unfinished mark that lvcreate
// set and the next apply makes it again (remake). It reports whether the
// volume may exist: false when it was never made or was removed again.
func (a *applier) createVolume(ctx context.Context, vg, pool, name string) bool {
	id := vg + "/" + name
	extent := defaultExtentSize
	if r := a.snap.vg(vg); r != nil {
		extent = r.ExtentSize
	}
	fs := a.str("filesystem")
	opts := stringsOf(a.req.Planned.GetAttr("mkfs_options"))
	tags, err := a.createTags(mkfsTag(opts), tagUnfinished)
	if err != nil {
		a.fail(fmt.Sprintf("Could not create volume %s", id), err)
		return false
	}
	size, _ := a.bytes("size")
	args := append([]string{"--type", "thin", "--virtualsize", fmt.Sprintf("%db", lvBytes(size, extent)),
		"--thinpool", vg + "/" + pool, "--name", name}, tagArgs(tags, nil)...)
	if err := a.run(ctx, lvmCmd("lvcreate", args...)); err != nil {
		a.fail(fmt.Sprintf("Could not create volume %s", id), err)
		return false
	}
	lv := &lvRow{VG: vg, Name: name, Major: -1}
	err = a.run(ctx, mkfsCmd(fs, "/dev/"+id, opts))
	if err == nil {
		err = a.setOwner(ctx, lv, fs, a.wantOwner(), []string{tagUnfinished})
	}
	if err == nil {
		return true
	}
	undo := a.removeNew(ctx, id)
	if undo != nil {
		err = errors.Join(err, fmt.Errorf("removing the half-made volume failed too; remove it by hand (lvremove %s): %w", id, undo))
	} else {
		err = fmt.Errorf("%w\nThe half-made volume %s was removed again", err, id)
	}
	a.fail(fmt.Sprintf("Could not make the %s filesystem of volume %s", fs, id), err)
	return undo != nil
}

// removeNew removes a volume this apply has just created.
func (a *applier) removeNew(ctx context.Context, id string) error {
	if err := a.run(ctx, lvmCmd("lvchange", "--activate", "n", id)); err != nil {
		return err
	}
	return a.run(ctx, lvmCmd("lvremove", id))
}

// setOwner applies owner and mode to the volume's root through a temporary
// mount and records them in tags (reading them back would need a mount on
// every refresh), in the lvchange that also clears the unfinished mark.
// current are the volume's tags now.
func (a *applier) setOwner(ctx context.Context, lv *lvRow, fs string, o owner, current []string) error {
	mode, err := a.p.applyOwner(ctx, lv, fs, o.uid, o.gid, o.mode)
	if err != nil {
		return err
	}
	var del []string
	for _, t := range current {
		if strings.HasPrefix(t, tagOwner) || strings.HasPrefix(t, tagMode) || t == tagUnfinished {
			del = append(del, t)
		}
	}
	add := []string{ownerTag(o.uid, o.gid), modeTag(mode)}
	return a.run(ctx, lvmCmd("lvchange", append(tagArgs(add, del), lv.ID())...))
}

func (a *applier) updateVolume(ctx context.Context, vg, name string) {
	id := vg + "/" + name
	lv := a.snap.lv(vg, name)
	if lv == nil {
		a.fail(fmt.Sprintf("Volume %s is gone", id), errors.New("it was removed since the plan was made; plan again"))
		return
	}
	if !a.checkOwned(lv.Tags, id) {
		return
	}
	m := parseMarks(lv.Tags)
	if m.Unfinished && a.req.Prior.GetAttr("filesystem").IsNull() {
		a.remake(ctx, lv)
		return
	}
	extent := defaultExtentSize
	if r := a.snap.vg(vg); r != nil {
		extent = r.ExtentSize
	}
	fs := a.str("filesystem")
	want := lv.Size
	if n, ok := a.bytes("size"); ok {
		want = max(lvBytes(n, extent), lv.Size)
	}
	// One lvchange for the user's tags and, when a grow starts, the
	// grow-from mark (see grow).
	add, del := userTagChange(lv.Tags, stringsOf(a.req.Planned.GetAttr("tags")))
	pending := growFromTag(m.GrowFrom)
	if m.GrowFrom == 0 && want > lv.Size {
		pending = growFromTag(lv.Size)
		add = append(add, pending)
	}
	if len(add)+len(del) > 0 {
		if err := a.run(ctx, lvmCmd("lvchange", append(tagArgs(add, del), id)...)); err != nil {
			a.fail(fmt.Sprintf("Could not change the tags of volume %s", id), err)
			return
		}
	}
	if want > lv.Size || m.GrowFrom != 0 {
		if err := a.grow(ctx, lv, fs, want, pending); err != nil {
			a.fail(fmt.Sprintf("Could not grow volume %s", id), err)
			return
		}
	}
	if o := a.wantOwner(); !ownerMatches(o, m) {
		if err := a.setOwner(ctx, lv, fs, o, lv.Tags); err != nil {
			a.fail(fmt.Sprintf("Could not set the owner of volume %s", id), err)
		}
	}
}

// remake removes a volume an earlier apply left without a filesystem (it
// holds nothing) and creates it again, whole. Plan said so (planVolume). A
// volume unfinished after its filesystem was made is finished in place
// instead: updateVolume's setOwner records its owner and clears the mark.
func (a *applier) remake(ctx context.Context, lv *lvRow) {
	if err := a.removeNew(ctx, lv.ID()); err != nil {
		a.fail(fmt.Sprintf("Could not remove the unfinished volume %s", lv.ID()),
			fmt.Errorf("%w\nIt was left without a filesystem by an apply that stopped half-way; if it is mounted or in use, free it and apply again", err))
		return
	}
	a.createVolume(ctx, lv.VG, lv.Pool, lv.Name)
}

// ownerMatches reports whether the recorded owner and mode are wanted.
func ownerMatches(o owner, m marks) bool {
	if !m.HasOwner || m.UID != o.uid || m.GID != o.gid {
		return false
	}
	if o.mode == "" {
		return m.Mode != ""
	}
	want, err1 := parseMode(o.mode)
	have, err2 := parseMode(m.Mode)
	return err1 == nil && err2 == nil && want == have
}

// grow extends the volume to want bytes and grows its filesystem. The
// grow-from tag (pending) is set before lvextend, by the caller, and
// removed only once the filesystem has grown: if anything fails in
// between, the next refresh reports the filesystem's old size and the next
// apply finishes the job.
func (a *applier) grow(ctx context.Context, lv *lvRow, fs string, want int64, pending string) error {
	if want > lv.Size {
		if err := a.run(ctx, lvmCmd("lvextend", "--size", fmt.Sprintf("%db", want), lv.ID())); err != nil {
			return err
		}
	}
	if err := a.p.growFS(ctx, lv, fs); err != nil {
		return fmt.Errorf("the volume was extended but its %s filesystem was not grown (the next apply tries again): %w", fs, err)
	}
	return a.run(ctx, lvmCmd("lvchange", "--deltag", pending, lv.ID()))
}
