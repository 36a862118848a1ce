package cache

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/internal/fsutil"
	"github.com/rigplan/rigplan/internal/systemd"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Apply creates, updates or deletes one cache agent service.
func (p *Provider) Apply(ctx context.Context, req *providers.ApplyRequest) *providers.ApplyResponse {
	name, err := instanceName(req.Addr)
	if err != nil {
		return &providers.ApplyResponse{New: req.Prior, Diagnostics: errDiag("Invalid cache name", err.Error())}
	}
	ps := p.pathsFor(name)
	var diags hcl.Diagnostics
	switch req.Action {
	case providers.Delete:
		diags = p.remove(ctx, req.Addr, ps)
		if !diags.HasErrors() {
			return &providers.ApplyResponse{New: cty.NullVal(p.schema.ImpliedType()), Diagnostics: diags}
		}
	case providers.Create, providers.Update:
		var st systemd.UnitStatus
		st, diags = p.converge(ctx, req.Addr, ps, req.Planned)
		if !diags.HasErrors() {
			return &providers.ApplyResponse{New: withStatus(req.Planned, st), Diagnostics: diags}
		}
	default:
		diags = errorf("Unsupported change", "The cache provider cannot %s %s. This is a bug in rigplan.", req.Action, req.Addr)
	}
	return &providers.ApplyResponse{New: req.Prior, Diagnostics: diags}
}

// converge brings one agent to its planned state:
//
//  1. refuse a unit file that is not rigplan's for this address, and a
//     missing binary; read the unit's status (no systemd, no writes);
//  2. if either file changes: mark a restart as owed, then write the
//     configuration and the unit, each atomically;
//  3. create the socket's directory with its mode (machines bind it, so
//     it should exist before the agent first runs);
//  4. daemon-reload if the unit changed or systemd says it must, enable if
//     not enabled;
//  5. restart if the files changed or a restart was owed, else start if
//     not running; then clear the mark;
//  6. read the unit's status back.
//
// A crash between 2 and 5 leaves the mark, which the next plan shows as
// restart_pending and the next apply pays.
func (p *Provider) converge(ctx context.Context, addr schema.Address, ps paths, planned cty.Value) (systemd.UnitStatus, hcl.Diagnostics) {
	var none systemd.UnitStatus
	files, err := p.render(addr, ps.name, planned)
	if err != nil {
		return none, errDiag("Invalid cache agent configuration", err.Error())
	}
	unitPath, cfgPath, pendingPath := p.onHost(ps.unitFile), p.onHost(ps.configFile), p.onHost(ps.pending)
	curUnit, err := fsutil.ReadFile(unitPath)
	if err != nil {
		return none, errorf("Cannot read the cache agent's unit", "%s: %v", ps.unitFile, err)
	}
	curCfg, err := fsutil.ReadFile(cfgPath)
	if err != nil {
		return none, errorf("Cannot read the cache agent's configuration", "%s: %v", ps.configFile, err)
	}
	if d := p.checkOwnership(addr, ps, curUnit, curCfg); d.HasErrors() {
		return none, d
	}
	exe := planned.GetAttr("executable").AsString()
	if fi, err := os.Stat(p.onHost(exe)); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return none, errorf("Cache agent binary missing",
			"%s would run %s, which is not an executable file on this host. Install rigplan there (or set executable to where it is), then apply again.", ps.unit, exe)
	}

	// Ask systemd first: without it, nothing is written.
	st, err := systemd.ShowOne(ctx, p.sd, ps.unit)
	if err != nil {
		return none, errorf("Cannot read the cache agent's service state", "%v\nNothing was written. The cache agent runs as a systemd service; apply it on a host booted with systemd.", err)
	}

	unitChanged, cfgChanged := !bytes.Equal(curUnit, files.unit), !bytes.Equal(curCfg, files.config)
	owed, err := fsutil.Exists(pendingPath)
	if err != nil {
		return none, errorf("Cannot tell whether a restart is owed", "%s: %v", ps.pending, err)
	}
	if unitChanged || cfgChanged {
		steps := []struct {
			write    bool
			at, what string
			data     []byte
		}{
			{true, ps.pending, "mark a restart as owed", []byte("rigplan apply changed " + ps.unit + "'s files and has not restarted it yet\n")},
			{cfgChanged, ps.configFile, "write the configuration", files.config},
			{unitChanged, ps.unitFile, "write the unit", files.unit},
		}
		for _, s := range steps {
			if !s.write {
				continue
			}
			if err := fsutil.WriteAtomic(p.onHost(s.at), s.data, fileMode); err != nil {
				return none, errorf("Cannot "+s.what+" of the cache agent", "%s: %v", s.at, err)
			}
		}
		owed = true
	}
	if err := p.socketDirectory(planned); err != nil {
		return none, errorf("Cannot create the cache agent's socket directory", "%v", err)
	}

	if unitChanged || st.NeedDaemonReload || !st.Loaded() {
		if err := p.sd.DaemonReload(ctx); err != nil {
			return none, errorf("systemctl daemon-reload failed", "%v\nThe files of %s are written; the next apply reloads and restarts it.", err, ps.unit)
		}
	}
	if st.UnitFileState != "enabled" {
		if err := p.sd.Enable(ctx, ps.unit); err != nil {
			return none, errorf("Cannot enable the cache agent", "%v", err)
		}
	}
	verb, run := "", func(context.Context, string) error { return nil }
	switch {
	case owed:
		verb, run = "restart", p.sd.Restart
	case !st.Active():
		verb, run = "start", p.sd.Start
	}
	if err := run(ctx, ps.unit); err != nil {
		return none, p.startFailure(ctx, verb, ps, err)
	}
	if err := fsutil.Remove(pendingPath); err != nil {
		return none, errorf("Cannot clear the cache agent's restart mark", "%s: %v. The agent was restarted; the next apply restarts it once more.", ps.pending, err)
	}
	st, err = systemd.ShowOne(ctx, p.sd, ps.unit)
	if err != nil {
		return none, errorf("Cannot read the cache agent's service state", "%v", err)
	}
	return st, nil
}

// checkOwnership refuses to overwrite a unit file that is not rigplan's
// for addr. With no unit file (a first apply, or one that stopped after
// writing the configuration), a configuration file already there must
// name this agent.
func (p *Provider) checkOwnership(addr schema.Address, ps paths, curUnit, curCfg []byte) hcl.Diagnostics {
	if curUnit != nil {
		u := parseUnit(curUnit)
		switch {
		case !u.marked:
			return errorf("Unit file not managed by rigplan",
				"%s exists and does not start with rigplan's mark (%q), so rigplan will not overwrite it. If it is an older hand-made cache agent, stop and disable it and move the file away; otherwise choose another name for %s.",
				ps.unitFile, strings.TrimSpace(markPrefix)+" "+addr.String(), addr)
		case u.addrErr != nil || u.addr != addr:
			return errorf("Unit file belongs to another cache",
				"%s carries rigplan's mark for %q, not for %s, so rigplan will not overwrite it. Remove the other cache block's object first (or this file, if it was copied by hand).",
				ps.unitFile, strings.TrimPrefix(firstLine(curUnit), markPrefix), addr)
		}
		return nil
	}
	if curCfg == nil {
		return nil
	}
	if fc, err := parseConfig(curCfg); err != nil || fc.Name != ps.name {
		return errorf("Configuration file not written by rigplan",
			"%s exists, but is not a cache agent configuration named %q, and there is no unit file for it. rigplan will not overwrite it: move it away, then apply again.",
			ps.configFile, ps.name)
	}
	return nil
}

// socketDirectory creates the socket's directory if needed and gives it
// its mode.
func (p *Provider) socketDirectory(planned cty.Value) error {
	dir := socketDir(planned)
	mode, err := parseMode(planned.GetAttr("socket_directory_mode").AsString())
	if err != nil {
		return err
	}
	at := p.onHost(dir)
	// The directory above keeps the host's users out: root-only when
	// apply makes it, and made so when it is rigplan's own gate. Another
	// directory the operator chose is left as it is (plan warns).
	gate := p.onHost(path.Dir(dir))
	if err := os.MkdirAll(gate, 0o700); err != nil {
		return err
	}
	if path.Dir(dir) == agent.DefaultSocketGate {
		if err := os.Chmod(gate, 0o700); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(at, os.FileMode(mode)); err != nil {
		return err
	}
	fi, err := os.Stat(at)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if fi.Mode().Perm() != os.FileMode(mode) {
		if err := os.Chmod(at, os.FileMode(mode)); err != nil {
			return err
		}
	}
	return nil
}

// startFailure explains a failed start with the agent's last log lines.
func (p *Provider) startFailure(ctx context.Context, verb string, ps paths, err error) hcl.Diagnostics {
	detail := systemd.FailureDetail(ctx, p.sd, verb, ps.unit, err)
	detail += fmt.Sprintf("\n\nFix the cause (often the store: the default volume or directory must exist), then apply again; see journalctl -u %s.", ps.unit)
	return errDiag("The cache agent did not start", detail)
}

// remove stops and disables the service and removes its files. The
// agent holds no data: the snapshots stay in the store, and the socket's
// directory stays too, since machines may bind it.
func (p *Provider) remove(ctx context.Context, addr schema.Address, ps paths) hcl.Diagnostics {
	unitPath := p.onHost(ps.unitFile)
	cur, err := fsutil.ReadFile(unitPath)
	if err != nil {
		return errorf("Cannot read the cache agent's unit", "%s: %v", ps.unitFile, err)
	}
	if cur != nil {
		if u := parseUnit(cur); !u.marked || u.addrErr != nil || u.addr != addr {
			return errorf("Unit file not rigplan's", "%s no longer carries rigplan's mark for %s; rigplan leaves it alone. Remove it yourself if it is not needed.", ps.unitFile, addr)
		}
	}
	st, err := systemd.ShowOne(ctx, p.sd, ps.unit)
	if err != nil {
		return errorf("Cannot read the cache agent's service state", "%v", err)
	}
	if st.Loaded() && st.ActiveState != "inactive" {
		if err := p.sd.Stop(ctx, ps.unit); err != nil {
			return errorf("Cannot stop the cache agent", "%v\nNothing was removed; fix the cause and apply again.", err)
		}
	}
	if strings.HasPrefix(st.UnitFileState, "enabled") {
		if err := p.sd.Disable(ctx, ps.unit); err != nil {
			return errorf("Cannot disable the cache agent", "%v\nThe agent is stopped; nothing was removed.", err)
		}
	}
	for _, f := range []string{ps.unitFile, ps.configFile, ps.pending} {
		if err := fsutil.Remove(p.onHost(f)); err != nil {
			return errorf("Cannot remove the cache agent's files", "%s: %v", f, err)
		}
	}
	if cur != nil {
		if err := p.sd.DaemonReload(ctx); err != nil {
			return errorf("systemctl daemon-reload failed", "%v\nThe agent is stopped and its files removed; run systemctl daemon-reload.", err)
		}
	}
	return nil
}

// withStatus is the planned state with what systemd says after apply.
func withStatus(planned cty.Value, st systemd.UnitStatus) cty.Value {
	m := planned.AsValueMap()
	m["active_state"] = cty.StringVal(st.ActiveState)
	m["unit_file_state"] = cty.StringVal(st.UnitFileState)
	m["need_daemon_reload"] = cty.BoolVal(st.NeedDaemonReload)
	m["restart_pending"] = cty.False
	m["socket_directory"] = cty.StringVal(socketDir(planned))
	m["machine_bind"] = machineBind(m["socket_directory"])
	return cty.ObjectVal(m)
}

// machineBind is the bind spec for a machine block that puts the socket's
// directory dir where clients look by default; unknown while dir is.
func machineBind(dir cty.Value) cty.Value {
	if !dir.IsKnown() || dir.IsNull() {
		return cty.UnknownVal(cty.String)
	}
	return cty.StringVal(dir.AsString() + ":" + path.Dir(agent.DefaultSocket))
}

// socketDir is the socket's directory, which plan leaves unknown until it
// exists.
func socketDir(planned cty.Value) string {
	return path.Dir(planned.GetAttr("socket").AsString())
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\n")
	return line
}
