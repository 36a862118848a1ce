package lvmstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/sysexec"
)

// Store keeps cache snapshots as thin snapshots in the default volume's
// thin pool, with all their state in LV tags. See the package doc.
type Store struct {
	run          sysexec.Runner
	vg, def      string // the default volume is vg/def
	tags         tagScheme
	mountOptions []string
	timeout      time.Duration
	learned      learned // from the store's reports: the pool's name, mapped bytes
}

var _ store.Store = (*Store)(nil)

// Describe names the store: its thin pool, "thin pool VG/POOL" as every
// FullError names it, once a report (List, Usage) has shown the pool's
// name; until then "thin pool of VG/DEFAULT".
func (s *Store) Describe() string {
	if p := s.learned.poolName(); p != "" {
		return "thin pool " + s.id(p)
	}
	return "thin pool of " + s.defID()
}

// defID is the default volume as "VG/LV".
func (s *Store) defID() string { return s.vg + "/" + s.def }

// Namespace returns the tag namespace.
func (s *Store) Namespace() string { return s.tags.ns }

func (s *Store) id(name string) string { return s.vg + "/" + name }

// Term returns the form the store keeps term in: the term itself when its
// tag encoding fits TermMax bytes, else lvmtag.EncodeTerm's hashed form (a
// readable prefix, "&#" and the term's SHA-256).
func (s *Store) Term(t string) string { return term(t) }

// List reads the default volume and every snapshot of the namespace with
// one lvs call.
func (s *Store) List(ctx context.Context) ([]store.Snapshot, error) {
	rows, err := s.report(ctx, s.vg)
	if err != nil {
		return nil, fmt.Errorf("list cache snapshots in volume group %s: %w", s.vg, err)
	}
	return s.snapshots(rows)
}

// snapshots turns a report of the volume group into the store's view: the
// default volume first, then the members oldest first, each with its
// Size (see "Sizes" in the package doc). An LV carrying the membership
// tag that is not a thin volume is left out: the store did not make it
// and will not delete it. It also learns the pool's name and what the
// default volume and the sealed snapshots map (for Create's base tag).
func (s *Store) snapshots(rows []row) ([]store.Snapshot, error) {
	var def *store.Snapshot
	type member struct {
		x *row
		p parsedTags
	}
	var members []member
	z := sizer{mapped: map[string]int64{}}
	for i := range rows {
		x := &rows[i]
		if x.VG != s.vg {
			continue
		}
		if x.Name == s.def {
			a, err := x.attr()
			if err != nil {
				return nil, err
			}
			if !a.thinVolume() {
				return nil, fmt.Errorf("default volume %s is not a thin volume (lv_attr %s): snapshots of it would not be thin; point the cache at a thin volume", s.defID(), a.raw)
			}
			def = &store.Snapshot{Name: x.Name, Created: x.Time, State: store.Sealed, Default: true}
			if n, ok := x.liveMapped(); ok {
				z.mapped[x.Name] = n
			}
			continue
		}
		p := s.tags.parse(x.Tags)
		if !p.member {
			continue
		}
		if a, err := x.attr(); err != nil || !a.thinVolume() {
			continue
		}
		if n, ok := x.liveMapped(); ok {
			z.mapped[x.Name] = n
		} else if p.mapped >= 0 {
			z.mapped[x.Name] = p.mapped
		}
		members = append(members, member{x, p})
	}
	if def == nil {
		return nil, fmt.Errorf("default volume %s not found: create it (rigplan apply) or point the cache at an existing thin volume", s.defID())
	}
	// Origins for Create's base tag: what never changes.
	keep := map[string]int64{}
	if n, ok := z.mapped[s.def]; ok {
		keep[s.def] = n
	}
	out := make([]store.Snapshot, 0, len(members))
	for _, m := range members {
		x, p := m.x, m.p
		created := p.created
		if created.IsZero() {
			created = x.Time
		}
		out = append(out, store.Snapshot{
			Name: x.Name, Annotations: p.annotations, Created: created, State: p.state,
			Machine: p.machine, Origin: x.Origin, Size: z.size(x.Name, x.Origin, p),
		})
		if n, ok := z.mapped[x.Name]; ok && p.state == store.Sealed {
			keep[x.Name] = n
		}
	}
	s.learned.setMapped(keep)
	for _, x := range rows {
		if x.VG == s.vg && x.Name == s.def && x.Pool != "" {
			s.learned.setPool(x.Pool)
		}
	}
	slices.SortFunc(out, func(a, b store.Snapshot) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return append([]store.Snapshot{*def}, out...), nil
}

// change runs an LVM command that changes something. Once started it is
// never killed because ctx ends (a client hung up, the agent is shutting
// down): killing lvcreate while it has the origin suspended for a thin
// snapshot leaves the origin suspended, and every write to it hangs (seen
// in the test kernel). Only the command's own timeout, for an LVM that
// hangs anyway, ends it early. A ctx already done stops it from starting.
func (s *Store) change(ctx context.Context, name string, args ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := s.run.Run(context.WithoutCancel(ctx), s.lvmCmd(name, args...))
	if err != nil {
		return s.explain(err)
	}
	return nil
}

// report runs the store's lvs call on a VG or VG/LV.
func (s *Store) report(ctx context.Context, target string) ([]row, error) {
	return s.reportSelect(ctx, target, "")
}

// reportSelect runs the store's lvs call on the LVs of a VG or VG/LV that
// match selection.
func (s *Store) reportSelect(ctx context.Context, target, selection string) ([]row, error) {
	res, err := s.run.Run(ctx, s.reportCmd(target, selection))
	if err != nil {
		return nil, s.explain(err)
	}
	return parseReport(res.Stdout)
}

// Create makes a thin snapshot of origin with one lvcreate that also
// writes every tag, the Pending state among them, and activates it: LVM
// commits the new LV and its tags in one metadata write, so there is never
// an untagged snapshot. It is activated now despite LVM's activation-skip
// flag (-K) but keeps the flag, so that cache snapshots are not all
// activated at boot. What the origin mapped at the last List, when the
// store knows it, goes into the NS:base tag ("Sizes" in the package doc).
func (s *Store) Create(ctx context.Context, origin, name, machine string, annotations []string) (store.Snapshot, error) {
	if err := checkLVMName(origin); err != nil {
		return store.Snapshot{}, fmt.Errorf("create cache snapshot %s: origin %w", s.id(name), err)
	}
	var sizes []string
	if n, ok := s.learned.mappedOf(origin); ok {
		sizes = []string{s.tags.bytesTag(kindBase, n)}
	}
	return s.snapshot(ctx, origin, name, machine, annotations, store.Pending, sizes, "--activate", "y", "--ignoreactivationskip")
}

// Copy makes a sealed snapshot of the in-use snapshot name, mounted at dir.
// The filesystem is synced first so that the suspend LVM does for the
// snapshot has little left to write; LVM then freezes the filesystem
// (device-mapper's lockfs) for the instant of the snapshot, which makes
// the copy consistent. The store does not freeze it itself: LVM's
// suspend fails with EBUSY on a filesystem that is already frozen, and a
// crash between freeze and thaw would leave the job's filesystem frozen.
// The copy is not activated; nothing mounts a sealed snapshot. Between
// the sync and the lvcreate, one lvs reads what the job's snapshot maps,
// for the copy's size tags ("Sizes" in the package doc).
func (s *Store) Copy(ctx context.Context, name, dir, newName, machine string, annotations []string) (store.Snapshot, error) {
	if name == s.def {
		return store.Snapshot{}, fmt.Errorf("save %s: %w", s.defID(), store.ErrDefault)
	}
	if err := checkLVMName(name); err != nil {
		return store.Snapshot{}, fmt.Errorf("save cache snapshot %s: %w", s.id(name), err)
	}
	if err := syncMounted(ctx, dir, devPath(s.vg, name)); err != nil {
		// The job's writes that fail to reach a full pool fail here.
		return store.Snapshot{}, fmt.Errorf("save cache snapshot %s: %w", s.id(name), s.noRoom(ctx, err))
	}
	// The copy will be inactive: record now what it maps. What the job
	// writes to new regions before LVM's suspend is missed (the copy's
	// snapshots are then reported that much larger).
	n, _, err := s.mappedNow(ctx, name)
	if err != nil {
		return store.Snapshot{}, fmt.Errorf("save cache snapshot %s: read what it maps: %w", s.id(name), err)
	}
	var sizes []string
	if n >= 0 {
		sizes = []string{s.tags.bytesTag(kindMapped, n), s.tags.bytesTag(kindBase, n)}
	}
	snap, err := s.snapshot(ctx, name, newName, machine, annotations, store.Sealed, sizes, "--activate", "n")
	if err == nil && n >= 0 {
		s.learned.addMapped(newName, n)
	}
	return snap, err
}

// snapshot runs the one lvcreate of Create and Copy, with the size tags
// sizes (NS:mapped, NS:base) among the new snapshot's.
func (s *Store) snapshot(ctx context.Context, origin, name, machine string, annotations []string, st store.State, sizes []string, activation ...string) (store.Snapshot, error) {
	what := fmt.Sprintf("create cache snapshot %s of %s", s.id(name), s.id(origin))
	if err := s.checkSnapshotName(name); err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, err)
	}
	created := time.Now().UTC()
	tags, terms, err := s.tags.newTags(st, created, machine, annotations)
	if err != nil {
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, err)
	}
	args := []string{"--snapshot", "--name", name, "--setactivationskip", "y"}
	args = append(args, activation...)
	for _, t := range append(tags, sizes...) {
		args = append(args, "--addtag", t)
	}
	args = append(args, s.id(origin))
	if err := s.change(ctx, "lvcreate", args...); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// The caller's view is stale: retention or an operator
			// removed the origin since it was listed.
			return store.Snapshot{}, fmt.Errorf("%s: the origin %s no longer exists (deleted since it was listed); make it from another: %w", what, s.id(origin), err)
		}
		return store.Snapshot{}, fmt.Errorf("%s: %w", what, s.noRoom(ctx, err))
	}
	return store.Snapshot{Name: name, Annotations: terms, Created: created, State: st, Machine: machine, Origin: origin}, nil
}

// SetState replaces the snapshot's state tag in one lvchange. LVM applies
// --deltag after --addtag, so the new state's own tag is never deleted;
// deleting a tag the LV lacks is not an error.
//
// Sealing first reads what the snapshot maps (one lvs: an inactive thin
// volume reports no data use), then deactivates it (an lvchange), which
// fails while anything still has it open: a sealed snapshot can no
// longer be written, and a later thin snapshot of an inactive origin
// needs no suspend of it. The state's lvchange then also records what it
// maps in its NS:mapped tag, which stays true: nothing writes to a sealed
// snapshot. Sealing is background work; the mount's path runs no lvs.
func (s *Store) SetState(ctx context.Context, name string, st store.State) error {
	if name == s.def {
		return fmt.Errorf("set the state of %s: %w", s.defID(), store.ErrDefault)
	}
	if !st.Valid() {
		return fmt.Errorf("set the state of cache snapshot %s: unknown state %q", s.id(name), st)
	}
	if err := checkLVMName(name); err != nil {
		return fmt.Errorf("set the state of cache snapshot %s: %w", s.id(name), err)
	}
	args := []string{"--addtag", s.tags.state(st)}
	mapped := int64(-1)
	if st == store.Sealed {
		n, x, err := s.mappedNow(ctx, name)
		if err != nil {
			return fmt.Errorf("seal cache snapshot %s: read what it maps: %w", s.id(name), err)
		}
		// Inactive already (n < 0: a seal retried after its
		// deactivation), it keeps the NS:mapped tag it has, if any.
		if n >= 0 {
			mapped = n
			tag := s.tags.bytesTag(kindMapped, n)
			args = append(args, "--addtag", tag)
			for _, old := range x.Tags {
				if s.tags.isBytesTag(old, kindMapped) && old != tag {
					args = append(args, "--deltag", old)
				}
			}
		}
		if err := s.change(ctx, "lvchange", "--activate", "n", s.id(name)); err != nil {
			return fmt.Errorf("seal cache snapshot %s: deactivate it (is it still mounted? unmount it everywhere first): %w", s.id(name), err)
		}
	}
	for _, other := range []store.State{store.Pending, store.InUse, store.Sealed} {
		if other != st {
			args = append(args, "--deltag", s.tags.state(other))
		}
	}
	if err := s.change(ctx, "lvchange", append(args, s.id(name))...); err != nil {
		return fmt.Errorf("set the state of cache snapshot %s to %s: %w", s.id(name), st, err)
	}
	if mapped >= 0 {
		s.learned.addMapped(name, mapped)
	}
	return nil
}

// Delete removes a snapshot: one lvs to check that the LV is the store's
// and not open, and that its pool can take an lvremove (canRemove), then
// lvchange --activate n when it is active, then lvremove. An inactive LV
// is removed without LVM asking, so nothing needs --yes.
func (s *Store) Delete(ctx context.Context, name string) error {
	if name == s.def {
		return fmt.Errorf("delete %s: %w", s.defID(), store.ErrDefault)
	}
	id := s.id(name)
	if err := checkLVMName(name); err != nil {
		return fmt.Errorf("delete cache snapshot %s: %w", id, err)
	}
	// The snapshot, the default volume and the thin pools, whatever
	// else the volume group holds. Names are checked above and hold no
	// quote.
	rows, err := s.reportSelect(ctx, s.vg, fmt.Sprintf(`lv_name=%q || lv_name=%q || segtype=thin-pool`, name, s.def))
	if err != nil {
		return fmt.Errorf("delete cache snapshot %s: %w", id, err)
	}
	var x *row
	for i := range rows {
		if rows[i].VG == s.vg && rows[i].Name == name {
			x = &rows[i]
		}
	}
	if x == nil {
		return fmt.Errorf("delete cache snapshot %s: lvs reports no such LV: %w", id, store.ErrNotFound)
	}
	if !s.tags.parse(x.Tags).member {
		return fmt.Errorf("delete %s: it is not a cache snapshot (no tag %s), so the agent leaves it alone; remove it by hand if it should go", id, s.tags.member())
	}
	a, err := x.attr()
	if err != nil {
		return fmt.Errorf("delete cache snapshot %s: %w", id, err)
	}
	if a.open {
		return fmt.Errorf("delete cache snapshot %s: it is open (mounted somewhere, or held by a process): unmount it first", id)
	}
	if p, err := s.pool(rows); err == nil && x.Pool == p.name {
		if err := s.canRemove(p); err != nil {
			return fmt.Errorf("delete cache snapshot %s: %w", id, err)
		}
	}
	if a.active() {
		if err := s.change(ctx, "lvchange", "--activate", "n", id); err != nil {
			return fmt.Errorf("delete cache snapshot %s: deactivate: %w", id, err)
		}
	}
	if err := s.change(ctx, "lvremove", id); err != nil {
		return fmt.Errorf("delete cache snapshot %s: %w", id, s.noRoom(ctx, err))
	}
	return nil
}

// Usage reads the thin pool's data and metadata use with one lvs call.
func (s *Store) Usage(ctx context.Context) (store.Usage, error) {
	rows, err := s.report(ctx, s.vg)
	if err != nil {
		return store.Usage{}, fmt.Errorf("read the cache's thin pool usage in volume group %s: %w", s.vg, err)
	}
	return s.usage(rows)
}

// usage finds the default volume's pool in a report and reads its use.
func (s *Store) usage(rows []row) (store.Usage, error) {
	p, err := s.pool(rows)
	if err != nil {
		return store.Usage{}, err
	}
	return p.usage, nil
}

// explain adds the store's sentinel errors and hints to a failed LVM
// command, keeping the command's own error (with its stderr) wrapped.
func (s *Store) explain(err error) error {
	var e *sysexec.Error
	if !errors.As(err, &e) {
		return err
	}
	switch {
	case sysexec.NotInstalled(err):
		return fmt.Errorf("%w\nInstall LVM's tools (Debian: apt-get install lvm2 thin-provisioning-tools)", err)
	case strings.Contains(e.Stderr, "Failed to find logical volume"),
		strings.Contains(e.Stderr, "Snapshot origin LV") && strings.Contains(e.Stderr, "not found"):
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	case strings.Contains(e.Stderr, "already exists in volume group"):
		return fmt.Errorf("%w: %w", store.ErrExists, err)
	case strings.Contains(e.Stderr, "Volume group \""+s.vg+"\" not found"):
		return fmt.Errorf("volume group %s does not exist: create it (rigplan apply) or fix the cache's default volume: %w", s.vg, err)
	}
	return err
}

var _ store.BusyChecker = (*Store)(nil)

// Busy reports whether anything holds the snapshot's device open, from
// lv_attr's open bit (one lvs call): a mount in any mount namespace, a
// filesystem lazily unmounted but still in use, or a process that opened
// the device. An inactive snapshot is not busy.
func (s *Store) Busy(ctx context.Context, name string) (bool, string, error) {
	id := s.id(name)
	if err := checkLVMName(name); err != nil {
		return false, "", fmt.Errorf("check whether cache snapshot %s is in use: %w", id, err)
	}
	rows, err := s.report(ctx, id)
	if err != nil {
		return false, "", fmt.Errorf("check whether cache snapshot %s is in use: %w", id, err)
	}
	if len(rows) != 1 || rows[0].Name != name {
		return false, "", fmt.Errorf("check whether cache snapshot %s is in use: lvs reported %d LVs: %w", id, len(rows), store.ErrNotFound)
	}
	a, err := rows[0].attr()
	if err != nil {
		return false, "", err
	}
	if a.open {
		return true, fmt.Sprintf("device %s is open (lv_attr %s)", devPath(s.vg, name), a.raw), nil
	}
	return false, "", nil
}
