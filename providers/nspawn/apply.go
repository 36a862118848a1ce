package nspawn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/fsutil"
	"github.com/rigplan/rigplan/internal/ociimage"
	"github.com/rigplan/rigplan/internal/progress"
	"github.com/rigplan/rigplan/internal/rootfs"
	"github.com/rigplan/rigplan/internal/systemd"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Apply creates, updates or deletes one machine.
func (p *Provider) Apply(ctx context.Context, req *providers.ApplyRequest) *providers.ApplyResponse {
	var diags hcl.Diagnostics
	switch req.Action {
	case providers.Delete:
		diags = p.remove(ctx, req.Addr, pathsFor(attrString(req.Prior, "name")))
		if !diags.HasErrors() {
			return &providers.ApplyResponse{New: cty.NullVal(p.schema.ImpliedType()), Diagnostics: diags}
		}
	case providers.Create, providers.Update:
		if !req.Planned.IsWhollyKnown() {
			return &providers.ApplyResponse{New: req.Prior, Diagnostics: errorf("Machine not fully known", "%s still has unknown values at apply; this is a bug in rigplan.", req.Addr)}
		}
		ps := pathsFor(req.Planned.GetAttr("name").AsString())
		diags = p.converge(ctx, req.Addr, ps, req.Planned, req.Interrupted)
		if !diags.HasErrors() {
			st, err := systemd.ShowOne(ctx, p.sd, ps.unit)
			if err != nil {
				return &providers.ApplyResponse{New: req.Planned, Diagnostics: append(diags, errorf("Cannot read the machine's service state", "%v", err)...)}
			}
			v, d := p.readState(ps, st)
			return &providers.ApplyResponse{New: keepConfig(v, req.Planned), Diagnostics: append(diags, d...)}
		}
	default:
		diags = errorf("Unsupported change", "The nspawn provider cannot %s %s. This is a bug in rigplan.", req.Action, req.Addr)
	}
	return &providers.ApplyResponse{New: req.Prior, Diagnostics: diags}
}

// keepConfig is the state read back after apply, with the planned value
// of what only the configuration says: after apply they agree.
func keepConfig(state, planned cty.Value) cty.Value {
	m := state.AsValueMap()
	for _, k := range []string{"image", "image_digest", "nested_podman", "job_wait"} {
		if m[k].IsNull() {
			m[k] = planned.GetAttr(k)
		}
	}
	return cty.ObjectVal(m)
}

// converge brings a machine to its planned state:
//
//  1. refuse files or a root directory that are not rigplan's for this
//     address, and missing bind sources; read the unit's status (no
//     systemd, nothing written);
//  2. unpack the image beside the root when the root is missing or was
//     unpacked from another image or for another range; wait for a
//     running job to end (unless the operator interrupts the apply),
//     stop the machine, swap the roots;
//  3. write the .nspawn file and the drop-in when they change;
//  4. daemon-reload when the drop-in changed, enable or disable;
//  5. start, stop, or restart an idle machine whose settings changed.
func (p *Provider) converge(ctx context.Context, addr schema.Address, ps paths, planned cty.Value, interrupted <-chan struct{}) hcl.Diagnostics {
	s := settingsFrom(planned)
	wantSettings, wantDropIn := renderSettings(addr, s), renderDropIn(addr, s)
	curSettings, err1 := fsutil.ReadFile(p.onHost(ps.settings))
	curDropIn, err2 := fsutil.ReadFile(p.onHost(ps.dropIn))
	curMark, err3 := fsutil.ReadFile(p.onHost(ps.mark))
	if err := errors.Join(err1, err2, err3); err != nil {
		return errorf("Cannot read the machine's files", "%s: %v", ps.name, err)
	}
	if d := p.checkOwnership(addr, ps, curSettings, curDropIn, curMark); d.HasErrors() {
		return d
	}
	for _, src := range append(bindSources(planned.GetAttr("bind")), bindSources(planned.GetAttr("bind_read_only"))...) {
		if _, err := os.Stat(p.onHost(src)); err != nil {
			return errorf("Bind source missing", "%s would bind %s, which does not exist: systemd-nspawn would refuse to start it. Create it (or remove the mount), then apply again. Nothing was changed.", describe(ps.name), src)
		}
	}
	st, err := systemd.ShowOne(ctx, p.sd, ps.unit)
	if err != nil {
		return errorf("Cannot read the machine's service state", "%v\nNothing was written. Machines run as systemd-nspawn@NAME.service; apply on a host booted with systemd.", err)
	}
	if err := p.release(ctx, ps); err != nil {
		return errorf("Cannot remove the machine's hold", "%s: %v", ps.hold, err)
	}
	// An apply killed while it unpacked, or while it waited for a job,
	// left its stage (a whole root) beside the machine's: it goes whether
	// or not this apply unpacks again.
	if _, err := rootfs.RemoveStale(p.onHost(ps.dir)); err != nil {
		return errorf("Cannot clear an interrupted unpack", "%s: %v", ps.dir, err)
	}

	stopped := false
	mark, _ := parseMark(curMark)
	want := rootMark{addr: addr, marked: true, image: planned.GetAttr("image").AsString(), digest: planned.GetAttr("image_digest").AsString(),
		shift: shiftFor(s.privateUsers, s.ownership), nestedPodman: planned.GetAttr("nested_podman").True(), jobWait: planned.GetAttr("job_wait").AsString()}
	dirThere, err := fsutil.Exists(p.onHost(ps.dir))
	if err != nil {
		return errorf("Cannot read the machine's root", "%s: %v", ps.dir, err)
	}
	if !dirThere || !mark.marked || mark.image != want.image || mark.digest != want.digest || mark.shift != want.shift {
		var d hcl.Diagnostics
		stopped, d = p.replaceRoot(ctx, ps, want, s, st, interrupted)
		if d.HasErrors() {
			return d
		}
	} else if !bytes.Equal(curMark, renderMark(want)) {
		if err := fsutil.WriteAtomic(p.onHost(ps.mark), renderMark(want), 0o644); err != nil {
			return errorf("Cannot write the machine's mark", "%s: %v", ps.mark, err)
		}
	}

	settingsChanged, dropInChanged := !bytes.Equal(curSettings, wantSettings), !bytes.Equal(curDropIn, wantDropIn)
	if settingsChanged {
		if err := fsutil.WriteAtomic(p.onHost(ps.settings), wantSettings, 0o644); err != nil {
			return errorf("Cannot write the machine's settings", "%s: %v", ps.settings, err)
		}
	}
	if dropInChanged {
		if err := fsutil.WriteAtomic(p.onHost(ps.dropIn), wantDropIn, 0o644); err != nil {
			return errorf("Cannot write the machine's unit drop-in", "%s: %v", ps.dropIn, err)
		}
	}
	if dropInChanged || st.NeedDaemonReload || !st.Loaded() {
		if err := p.sd.DaemonReload(ctx); err != nil {
			return errorf("systemctl daemon-reload failed", "%v\nThe files of %s are written; the next apply reloads systemd.", err, ps.unit)
		}
	}
	enabled := st.UnitFileState == "enabled" || st.UnitFileState == "enabled-runtime"
	switch want := planned.GetAttr("enabled").True(); {
	case want && !enabled:
		if err := p.sd.Enable(ctx, ps.unit); err != nil {
			return errorf("Cannot enable the machine", "%v", err)
		}
	case !want && enabled:
		if err := p.sd.Disable(ctx, ps.unit); err != nil {
			return errorf("Cannot disable the machine", "%v", err)
		}
	}
	active := st.Active() && !stopped
	verb, run := "", func(context.Context, string) error { return nil }
	switch running := planned.GetAttr("running").True(); {
	case running && !active:
		verb, run = "start", p.sd.Start
	case running && (settingsChanged || dropInChanged):
		if pid, _ := p.busyPID(ps.unit); pid == 0 {
			verb, run = "restart", p.sd.Restart
		}
	case !running && st.Active():
		verb, run = "stop", p.sd.Stop
	}
	if err := run(ctx, ps.unit); err != nil {
		return p.startFailure(ctx, verb, ps, err)
	}
	return nil
}

// replaceRoot unpacks the image into a stage beside the machine's root,
// then puts it in place: at once when the machine is not running, else
// after its job ended and it was stopped. It reports whether it stopped
// the machine.
func (p *Provider) replaceRoot(ctx context.Context, ps paths, want rootMark, s settings, st systemd.UnitStatus, interrupted <-chan struct{}) (bool, hcl.Diagnostics) {
	dir := p.onHost(ps.dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return false, errorf("Cannot create the machines' directory", "%v", err)
	}
	stage, err := rootfs.NewStage(dir)
	if err != nil {
		return false, errorf("Cannot unpack the machine's image", "%v", err)
	}
	var idmap *rootfs.IDMap
	if want.shift != 0 {
		r, _ := rangeOf(s.privateUsers)
		idmap = &rootfs.IDMap{Base: r.base, Size: r.count}
	}
	rep := progress.New(p.opts.Progress, want.addr.String())
	defer rep.Done()
	got, err := ociimage.Unpack(ctx, p.onHost(want.image), stage.Dir(), ociimage.UnpackOptions{IDMap: idmap, Progress: rep})
	if err == nil && got.String() != want.digest {
		err = fmt.Errorf("the layout holds %s, not %s: the image changed since plan; plan again", got, want.digest)
	}
	if err != nil {
		stage.Discard()
		return false, errorf("Cannot unpack the machine's image", "%s for %s: %v\nThe machine's old root, if any, is untouched.", want.image, describe(ps.name), err)
	}
	stopped := false
	if st.Active() {
		if err := p.stopBetweenJobs(ctx, ps, want.jobWait, rep, interrupted); err != nil {
			stage.Discard()
			hint := "apply again after the job, or raise job_wait"
			if errors.Is(err, errWaitInterrupted) {
				hint = "apply again to replace it"
			}
			return false, errorf("Machine not stopped for its new root", "%v\nThe machine and its root are as they were; %s.", err, hint)
		}
		stopped = true
	}
	// The mark goes first, so that a crash leaves a root rigplan still
	// recognises as its own (with a digest that makes the next apply
	// unpack again).
	pending := want
	pending.digest = "unpacking"
	if err := fsutil.WriteAtomic(p.onHost(ps.mark), renderMark(pending), 0o644); err != nil {
		stage.Discard()
		return stopped, errorf("Cannot write the machine's mark", "%s: %v", ps.mark, err)
	}
	var diags hcl.Diagnostics
	if err := stage.Commit(); err != nil {
		var left *rootfs.LeftoverError
		if !errors.As(err, &left) {
			stage.Discard()
			return stopped, errorf("Cannot put the machine's new root in place", "%v", err)
		}
		diags = append(diags, warnf("Old machine root left behind", "%v; the next apply removes it.", err))
	}
	if err := fsutil.WriteAtomic(p.onHost(ps.mark), renderMark(want), 0o644); err != nil {
		return stopped, append(diags, errorf("Cannot write the machine's mark", "%s: %v", ps.mark, err)...)
	}
	return stopped, diags
}

// stopBetweenJobs stops a running machine without killing its job. An
// idle machine is stopped at once. While a job runs, a runtime drop-in
// (Restart=no) keeps systemd from booting the machine again when the job
// powers it off, so that the next job cannot start on the old root in the
// moment between two polls; apply waits at most wait for the job to end
// (less if the operator interrupts it), stops the machine if it has not
// powered off by itself, and removes the hold whatever happened.
func (p *Provider) stopBetweenJobs(ctx context.Context, ps paths, wait string, rep *progress.Reporter, interrupted <-chan struct{}) (err error) {
	pid, err := p.busyPID(ps.unit)
	if err != nil {
		return err
	}
	if pid != 0 {
		limit, err := time.ParseDuration(wait)
		if err != nil {
			return err
		}
		rep.Printf("a job runs (%s pid %d): waiting up to %s for it to end", jobProcess, pid, limit)
		if err := p.hold(ctx, ps); err != nil {
			return err
		}
		defer func() {
			if rerr := p.release(context.WithoutCancel(ctx), ps); rerr != nil {
				err = errors.Join(err, fmt.Errorf("removing the hold %s (the machine will not boot again after its job until it is gone): %w", ps.hold, rerr))
			}
		}()
		if err := p.waitIdle(ctx, ps, limit, interrupted); err != nil {
			return err
		}
	}
	if err := p.sd.Stop(ctx, ps.unit); err != nil {
		return fmt.Errorf("cannot stop %s: %w", describe(ps.name), err)
	}
	return nil
}

// hold writes the runtime drop-in that keeps systemd from restarting the
// machine, and reloads systemd.
func (p *Provider) hold(ctx context.Context, ps paths) error {
	if err := os.MkdirAll(filepath.Dir(p.onHost(ps.hold)), 0o755); err != nil {
		return err
	}
	text := fmt.Sprintf("%s%s\n# Held by rigplan apply until the machine's job ends; removed when apply is done.\n\n[Service]\nRestart=no\n", markPrefix, ps.name)
	if err := fsutil.WriteAtomic(p.onHost(ps.hold), []byte(text), 0o644); err != nil {
		return err
	}
	return p.sd.DaemonReload(ctx)
}

// release removes the hold, if there is one: after a wait, and at the
// start of every apply, in case an apply was killed while it waited.
func (p *Provider) release(ctx context.Context, ps paths) error {
	there, err := fsutil.Exists(p.onHost(ps.hold))
	if err != nil || !there {
		return err
	}
	if err := fsutil.Remove(p.onHost(ps.hold)); err != nil {
		return err
	}
	os.Remove(p.onHost(filepath.Dir(ps.hold))) // only if empty
	return p.sd.DaemonReload(ctx)
}

// errWaitInterrupted ends a wait for a job that the operator interrupted.
var errWaitInterrupted = errors.New("the apply was interrupted")

// waitIdle waits until no job runs in the machine, for at most limit, or
// until the operator interrupts the apply: nothing has changed yet, so
// giving up then leaves the machine as it was, running its job.
func (p *Provider) waitIdle(ctx context.Context, ps paths, limit time.Duration, interrupted <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(p.opts.PollInterval)
	defer tick.Stop()
	for {
		pid, err := p.busyPID(ps.unit)
		if err != nil {
			return err
		}
		if pid == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still runs a job (%s pid %d) after %s", describe(ps.name), jobProcess, pid, limit)
		case <-interrupted:
			return fmt.Errorf("%w while %s ran a job (%s pid %d)", errWaitInterrupted, describe(ps.name), jobProcess, pid)
		case <-tick.C:
		}
	}
}

// checkOwnership refuses files and a root directory rigplan did not make
// for addr.
func (p *Provider) checkOwnership(addr schema.Address, ps paths, files ...[]byte) hcl.Diagnostics {
	where := []string{ps.settings, ps.dropIn, ps.mark}
	for i, b := range files {
		if b == nil {
			continue
		}
		m := readMark(b)
		switch {
		case !m.marked:
			return errorf("File not managed by rigplan",
				"%s exists without rigplan's mark (%s%s), so rigplan will not overwrite it. If it belongs to a hand-made machine, stop it and move the file away; otherwise choose another name.",
				where[i], markPrefix, addr)
		case m.addrErr != nil || m.addr != addr:
			return errorf("File belongs to another resource", "%s carries rigplan's mark for another address, not %s; rigplan will not overwrite it.", where[i], addr)
		}
	}
	if files[2] == nil {
		if ok, _ := fsutil.Exists(p.onHost(ps.dir)); ok {
			return errorf("Machine directory not managed by rigplan",
				"%s exists, and rigplan did not unpack it (there is no %s). rigplan will not replace a root it does not own: move it away (machinectl remove %s), or choose another name.",
				ps.dir, ps.mark, ps.name)
		}
	}
	return nil
}

func (p *Provider) startFailure(ctx context.Context, verb string, ps paths, err error) hcl.Diagnostics {
	detail := systemd.FailureDetail(ctx, p.sd, verb, ps.unit, err)
	return errDiag("The machine did not "+verb, detail+fmt.Sprintf("\n\nSee journalctl -u %s.", ps.unit))
}

// remove stops and disables a machine and removes its files and root.
func (p *Provider) remove(ctx context.Context, addr schema.Address, ps paths) hcl.Diagnostics {
	var cur [3][]byte
	for i, f := range []string{ps.settings, ps.dropIn, ps.mark} {
		b, err := fsutil.ReadFile(p.onHost(f))
		if err != nil {
			return errorf("Cannot read the machine's files", "%s: %v", f, err)
		}
		cur[i] = b
	}
	if d := p.checkOwnership(addr, ps, cur[0], cur[1], cur[2]); d.HasErrors() {
		return d
	}
	st, err := systemd.ShowOne(ctx, p.sd, ps.unit)
	if err != nil {
		return errorf("Cannot read the machine's service state", "%v", err)
	}
	if st.Loaded() && st.ActiveState != "inactive" {
		if err := p.sd.Stop(ctx, ps.unit); err != nil {
			return errorf("Cannot stop the machine", "%v\nNothing was removed.", err)
		}
	}
	if st.UnitFileState == "enabled" || st.UnitFileState == "enabled-runtime" {
		if err := p.sd.Disable(ctx, ps.unit); err != nil {
			return errorf("Cannot disable the machine", "%v", err)
		}
	}
	if err := rootfs.Remove(p.onHost(ps.dir)); err != nil {
		return errorf("Cannot remove the machine's root", "%s: %v", ps.dir, err)
	}
	if _, err := rootfs.RemoveStale(p.onHost(ps.dir)); err != nil {
		return errorf("Cannot remove an interrupted unpack", "%s: %v", ps.dir, err)
	}
	for _, f := range []string{ps.settings, ps.dropIn, ps.mark} {
		if err := fsutil.Remove(p.onHost(f)); err != nil {
			return errorf("Cannot remove the machine's files", "%s: %v", f, err)
		}
	}
	os.Remove(p.onHost(filepath.Dir(ps.dropIn))) // only if empty
	if err := p.sd.DaemonReload(ctx); err != nil {
		return errorf("systemctl daemon-reload failed", "%v\nThe machine is removed; run systemctl daemon-reload.", err)
	}
	return nil
}
