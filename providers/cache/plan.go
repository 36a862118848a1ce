package cache

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Plan proposes a cache's state: its configuration with the defaults
// filled in, the files rendered from it (their hashes), and the service
// enabled and active. Nothing about a cache forces replacement: every
// change is new files and a restart.
func (p *Provider) Plan(ctx context.Context, req *providers.PlanRequest) *providers.PlanResponse {
	if req.Config.IsNull() {
		// A deletion: the agent holds no data, so nothing is refused.
		return &providers.PlanResponse{Planned: req.Config}
	}
	name, err := instanceName(req.Addr)
	if err != nil {
		return &providers.PlanResponse{Diagnostics: errDiag("Invalid cache name", err.Error())}
	}
	ps := p.pathsFor(name)
	prior := req.Prior
	var diags hcl.Diagnostics
	if !prior.IsNull() && attrString(prior, "unit_file_state") == "masked" {
		return &providers.PlanResponse{Diagnostics: errorf("Cache agent masked",
			"%s is masked, so systemd will not start it: someone stopped it on purpose. Run systemctl unmask %s to let rigplan manage it again, or remove the cache block.", ps.unit, ps.unit)}
	}

	vals := withBlockDefaults(p.schema, req.Config).AsValueMap()
	exe, defaulted := vals["executable"], false
	switch {
	case !exe.IsNull():
	case !prior.IsNull() && !prior.GetAttr("executable").IsNull():
		exe = prior.GetAttr("executable")
	case p.opts.Executable != "":
		exe, defaulted = cty.StringVal(p.opts.Executable), true
	default:
		return &providers.PlanResponse{Diagnostics: errorf("Cannot tell which rigplan the service runs",
			"rigplan could not find its own path; set executable in %s to where rigplan is installed, e.g. /usr/local/bin/rigplan.", req.Addr)}
	}
	vals["executable"] = exe
	vals["name"] = cty.StringVal(name)
	vals["unit"] = cty.StringVal(ps.unit)
	vals["unit_file"] = cty.StringVal(ps.unitFile)
	vals["config_file"] = cty.StringVal(ps.configFile)
	vals["socket_directory"] = cty.UnknownVal(cty.String)
	if s := vals["socket"]; s.IsKnown() && !s.IsNull() {
		vals["socket_directory"] = cty.StringVal(path.Dir(s.AsString()))
		diags = append(diags, p.checkGate(req.Addr, s.AsString())...)
	}
	vals["active_state"] = cty.StringVal("active")
	vals["unit_file_state"] = cty.StringVal("enabled")
	vals["need_daemon_reload"] = cty.False
	vals["restart_pending"] = cty.False
	// The files are known once everything they are rendered from is.
	vals["unit_sha256"] = cty.StringVal("")
	vals["config_sha256"] = cty.StringVal("")
	if cty.ObjectVal(vals).IsWhollyKnown() {
		files, err := p.render(req.Addr, name, cty.ObjectVal(vals))
		if err != nil {
			return &providers.PlanResponse{Diagnostics: errDiag("Invalid cache agent configuration", err.Error())}
		}
		vals["unit_sha256"] = cty.StringVal(sha256Hex(files.unit))
		vals["config_sha256"] = cty.StringVal(sha256Hex(files.config))
	} else {
		vals["unit_sha256"] = cty.UnknownVal(cty.String)
		vals["config_sha256"] = cty.UnknownVal(cty.String)
	}
	// The socket's directory is known once it exists. Until apply makes
	// it, it is unknown, so that a machine binding it (nspawn refuses a
	// missing bind source) is planned as waiting for it, not warned about.
	if dir := vals["socket_directory"]; dir.IsKnown() && !fileExists(p.onHost(dir.AsString())) {
		vals["socket_directory"] = cty.UnknownVal(cty.String)
	}
	vals["machine_bind"] = machineBind(vals["socket_directory"])
	planned := cty.ObjectVal(vals)

	if exe.IsKnown() {
		diags = append(diags, p.checkExecutable(exe.AsString(), defaulted)...)
	}
	if d := restartNotice(ps.unit, prior, planned); d != nil {
		diags = append(diags, d)
	}
	return &providers.PlanResponse{Planned: planned, Diagnostics: diags}
}

// rendered are a cache's two files.
type rendered struct {
	unit, config []byte
}

// render produces the files for a wholly known value, and checks the
// configuration as the agent will when it starts.
func (p *Provider) render(addr schema.Address, name string, v cty.Value) (rendered, error) {
	fc, err := fileConfig(name, v)
	if err != nil {
		return rendered{}, err
	}
	if _, err := fc.Config(); err != nil {
		return rendered{}, err
	}
	cfg, err := renderConfig(fc)
	if err != nil {
		return rendered{}, err
	}
	spec := unitSpec{addr: addr, executable: v.GetAttr("executable").AsString(), configFile: p.pathsFor(name).configFile}
	storeOrdering(&spec, fc.Store)
	return rendered{unit: renderUnit(spec), config: cfg}, nil
}

// checkExecutable warns when the service would run a binary that is not
// there, or one from a build directory that will not last.
func (p *Provider) checkExecutable(exe string, defaulted bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if fi, err := os.Stat(p.onHost(exe)); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		diags = append(diags, warnDiag("Cache agent binary missing",
			fmt.Sprintf("The service would run %s, which is not an executable file on this host; apply refuses until it is. Install rigplan there, or set executable.", exe)))
	} else if defaulted && strings.HasPrefix(exe, filepath.Clean(os.TempDir())+"/") {
		diags = append(diags, warnDiag("Cache agent binary in a temporary directory",
			fmt.Sprintf("The service would run %s, the rigplan running now, which is in a temporary directory (go run?). Install rigplan, e.g. at /usr/local/bin/rigplan, and set executable to it.", exe)))
	}
	return diags
}

// restartNotice says that apply restarts a running agent, and why that is
// safe, when the files change.
func restartNotice(unit string, prior, planned cty.Value) *hcl.Diagnostic {
	if prior.IsNull() || attrString(prior, "active_state") != "active" {
		return nil
	}
	changed := func(name string) bool {
		a, b := prior.GetAttr(name), planned.GetAttr(name)
		return !a.IsKnown() || !b.IsKnown() || !a.RawEquals(b)
	}
	pending := prior.GetAttr("restart_pending")
	if !changed("unit_sha256") && !changed("config_sha256") && !(pending.IsKnown() && pending.True()) {
		return nil
	}
	detail := fmt.Sprintf("Its files change, so apply restarts %s. That is safe: the agent rebuilds its view from the store and the mount "+
		"table, caches mounted in machines stay mounted and are sealed when their machines stop, and requests under way finish first "+
		"(the agent gets SIGTERM). A client that connects in the moment between is refused and may retry.", unit)
	if a, b := prior.GetAttr("socket_directory"), planned.GetAttr("socket_directory"); a.IsKnown() && b.IsKnown() && !a.IsNull() && !b.IsNull() && !a.RawEquals(b) {
		detail += fmt.Sprintf(" The socket moves from %s to %s: machines that bind the old directory must be restarted to reach it.", a.AsString(), b.AsString())
	}
	return warnDiag("The cache agent will restart", detail)
}

func attrString(v cty.Value, name string) string {
	a := v.GetAttr(name)
	if a.IsNull() || !a.IsKnown() {
		return ""
	}
	return a.AsString()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// checkGate warns when every host user can reach the socket: the
// directory above its own exists and lets others search it, as do all
// above that. Apply makes a missing one root-only, and rigplan's own
// (agent.DefaultSocketGate) root-only again, so neither is warned about.
func (p *Provider) checkGate(addr schema.Address, socket string) hcl.Diagnostics {
	gate := path.Dir(path.Dir(socket))
	if gate == agent.DefaultSocketGate || !fileExists(p.onHost(gate)) {
		return nil
	}
	open, dir := agent.OpenToHostUsers(p.onHost(socket))
	if !open {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagWarning,
		Summary:  "Every host user can reach the cache agent's socket",
		Detail: fmt.Sprintf("%s: every directory above %s lets others search it (%s is the nearest), so any user on the host can connect. "+
			"The agent refuses them, but each costs it a connection. Make %s root-only (chmod 0700), or use the default socket %s, whose directory apply keeps so.",
			addr, path.Dir(socket), strings.TrimPrefix(dir, p.onHost("/")), gate, agent.DefaultHostSocket),
	}}
}
