package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/fsutil"
	"github.com/rigplan/rigplan/internal/systemd"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// Refresh finds rigplan's cache units by their mark (one read of the unit
// directory), reads each one's files back, and asks systemd about all of
// them in one `systemctl show`. With no cache unit on the host it runs no
// command at all, so hosts without caches need no systemd.
func (p *Provider) Refresh(ctx context.Context, req *providers.RefreshRequest) *providers.RefreshResponse {
	desired, diags := desiredByName(req.Desired)
	files, err := p.unitFiles()
	if err != nil {
		return &providers.RefreshResponse{Diagnostics: append(diags, errDiag("Could not read the cache agents' unit files", err.Error())...)}
	}
	type found struct {
		addr  schema.Address
		paths paths
		unit  []byte
		file  unitFile
	}
	var objs []providers.Object
	var managed []found
	for _, name := range sortedKeys(files) {
		b, ps := files[name], p.pathsFor(name)
		u := parseUnit(b)
		inst, wanted := desired[name]
		problem := ""
		switch {
		case !u.marked:
		case u.addrErr != nil:
			problem = fmt.Sprintf("its mark's address cannot be read (%v)", u.addrErr)
		case u.addr.Type != typeCache:
			problem = fmt.Sprintf("its mark names %s, which is not a cache", u.addr)
		default:
			if n, err := instanceName(u.addr); err != nil || n != name {
				problem = fmt.Sprintf("its mark names %s, whose unit would be %s", u.addr, p.pathsFor(n).unit)
			}
		}
		switch {
		case u.marked && problem == "":
			managed = append(managed, found{addr: u.addr, paths: ps, unit: b, file: u})
			if wanted && inst.Addr != u.addr {
				// Deleting the one and creating the other would race
				// for the same files.
				diags = append(diags, errorf("Two caches with one unit",
					"%s is %s's, and %s wants the same unit. Remove or rename one of the blocks and apply, then add the other.", ps.unitFile, u.addr, inst.Addr)...)
			}
		case wanted:
			// Someone else's file where the configuration wants one:
			// the planner refuses to take it over.
			objs = append(objs, providers.Object{Addr: inst.Addr, State: cty.NullVal(p.schema.ImpliedType()), ID: ps.unitFile})
		}
		if problem != "" {
			diags = append(diags, warnDiag("Unit file with an unusable mark",
				fmt.Sprintf("%s carries rigplan's mark, but %s. rigplan leaves it alone; remove it, or restore its first line.", ps.unitFile, problem)))
		}
	}
	if len(managed) == 0 {
		return &providers.RefreshResponse{Objects: objs, Diagnostics: diags}
	}

	units := make([]string, len(managed))
	for i, f := range managed {
		units[i] = f.paths.unit
	}
	status, err := p.sd.Show(ctx, units...)
	if err != nil {
		return &providers.RefreshResponse{Diagnostics: append(diags, errDiag("Could not read the cache agents' service state",
			fmt.Sprintf("%v\nrigplan runs the cache agent as a systemd service; plan and apply need a host booted with systemd.", err))...)}
	}
	for i, f := range managed {
		st, d := p.readState(f.addr, f.paths, f.unit, f.file, status[i])
		diags = append(diags, d...)
		if inst, ok := desired[f.paths.name]; ok && inst.Addr == f.addr {
			st = keepSpelling(st, inst.Config)
		}
		objs = append(objs, providers.Object{Addr: f.addr, State: st, Managed: true, ID: f.paths.unit})
	}
	return &providers.RefreshResponse{Objects: objs, Diagnostics: diags}
}

// desiredByName indexes the wanted instances by agent name, and refuses
// two that would share a name or a socket.
func desiredByName(insts []providers.Instance) (map[string]providers.Instance, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	byName := map[string]providers.Instance{}
	bySocket := map[string]schema.Address{}
	byStore := map[string]schema.Address{}
	for _, inst := range insts {
		name, err := instanceName(inst.Addr)
		if err != nil {
			continue // Plan reports it, with the block's range
		}
		if other, dup := byName[name]; dup {
			diags = append(diags, errorf("Two caches with one name",
				"%s and %s would both be the cache agent %q (unit %s%s%s). Rename one of the blocks or keys.", other.Addr, inst.Addr, name, unitPrefix, name, unitSuffix)...)
			continue
		}
		byName[name] = inst
		if inst.Config.IsNull() || !inst.Config.IsKnown() {
			continue
		}
		if s := inst.Config.GetAttr("socket"); s.IsKnown() && !s.IsNull() {
			if other, dup := bySocket[s.AsString()]; dup {
				diags = append(diags, errorf("Two caches on one socket",
					"%s and %s both listen on %s; only one agent can. Give one of them another socket, in a directory of its own.", other, inst.Addr, s.AsString())...)
				continue
			}
			bySocket[s.AsString()] = inst.Addr
		}
		if key, what := storeKey(inst.Config); key != "" {
			if other, dup := byStore[key]; dup {
				diags = append(diags, errorf("Two caches on one store",
					"%s and %s both keep their snapshots in %s: each agent takes every snapshot there as its own, and would seal and delete the other's. Give one of them another %s.", other, inst.Addr, what, storeKeyFix(inst.Config))...)
				continue
			}
			byStore[key] = inst.Addr
		}
	}
	return byName, diags
}

// storeKey names the snapshots a cache's agent takes as its own: an LVM
// store's volume group and tag namespace, a btrfs store's directory ("" while
// unknown), and says it for an operator.
func storeKey(cfg cty.Value) (key, what string) {
	if lvm := cfg.GetAttr("lvm_store"); !lvm.IsNull() && lvm.IsWhollyKnown() {
		vg, _, _ := strings.Cut(lvm.GetAttr("default_volume").AsString(), "/")
		ns := lvm.GetAttr("tag_namespace")
		if vg == "" || ns.IsNull() {
			return "", ""
		}
		return "lvm " + vg + " " + ns.AsString(), fmt.Sprintf("volume group %s under the tag namespace %q", vg, ns.AsString())
	}
	if b := cfg.GetAttr("btrfs_store"); !b.IsNull() && b.IsWhollyKnown() {
		dir := b.GetAttr("directory").AsString()
		return "btrfs " + path.Clean(dir), "the directory " + dir
	}
	return "", ""
}

func storeKeyFix(cfg cty.Value) string {
	if !cfg.GetAttr("lvm_store").IsNull() {
		return "tag_namespace"
	}
	return "directory"
}

// unitFiles reads every rigplan-cache-*.service in the unit directory,
// by agent name. Anything there that is not a regular file is ignored.
func (p *Provider) unitFiles() (map[string][]byte, error) {
	dir := p.onHost(p.opts.UnitDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range entries {
		name, ok := nameFromUnit(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[name] = b
	}
	return out, nil
}

// readState builds one cache's state from its unit file, its
// configuration file, its socket directory and systemd's view of it.
func (p *Provider) readState(addr schema.Address, ps paths, unit []byte, u unitFile, st systemd.UnitStatus) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vals := nullAttrs(p.schema)
	if cfg, err := fsutil.ReadFile(p.onHost(ps.configFile)); err != nil {
		diags = append(diags, warnDiag("Cache agent configuration unreadable", fmt.Sprintf("%s: %v. The next apply writes it again.", ps.configFile, err)))
	} else if cfg == nil {
		diags = append(diags, warnDiag("Cache agent configuration missing", fmt.Sprintf("%s (for %s) does not exist; the next apply writes it again.", ps.configFile, addr)))
	} else {
		vals["config_sha256"] = cty.StringVal(sha256Hex(cfg))
		fc, err := parseConfig(cfg)
		var attrs map[string]cty.Value
		if err == nil {
			attrs, err = configAttrs(p.schema, fc)
		}
		if err != nil {
			diags = append(diags, warnDiag("Cache agent configuration unreadable",
				fmt.Sprintf("%s (for %s) is not a configuration the agent accepts: %v. The next apply writes it again.", ps.configFile, addr, err)))
		}
		for k, v := range attrs {
			vals[k] = v
		}
	}
	if u.executable != "" {
		vals["executable"] = cty.StringVal(u.executable)
	}
	vals["name"] = cty.StringVal(ps.name)
	vals["unit"] = cty.StringVal(ps.unit)
	vals["unit_file"] = cty.StringVal(ps.unitFile)
	vals["config_file"] = cty.StringVal(ps.configFile)
	vals["unit_sha256"] = cty.StringVal(sha256Hex(unit))
	if s := vals["socket"]; !s.IsNull() {
		dir := path.Dir(s.AsString())
		vals["socket_directory"] = cty.StringVal(dir)
		vals["machine_bind"] = machineBind(cty.StringVal(dir))
		// The directory's actual mode, when it exists: the agent only
		// sets it on a directory it creates.
		if fi, err := os.Stat(p.onHost(dir)); err == nil && fi.IsDir() {
			vals["socket_directory_mode"] = cty.StringVal(fmt.Sprintf("%04o", fi.Mode().Perm()))
		}
	}
	vals["active_state"] = cty.StringVal(st.ActiveState)
	vals["unit_file_state"] = cty.StringVal(st.UnitFileState)
	vals["need_daemon_reload"] = cty.BoolVal(st.NeedDaemonReload)
	pending, err := fsutil.Exists(p.onHost(ps.pending))
	if err != nil {
		diags = append(diags, warnDiag("Cannot tell whether a restart is pending", err.Error()))
	}
	vals["restart_pending"] = cty.BoolVal(pending)

	if st.Loaded() && st.FragmentPath != "" && st.FragmentPath != ps.unitFile {
		diags = append(diags, warnDiag("Cache agent unit loaded from elsewhere",
			fmt.Sprintf("systemd runs %s from %s, not from %s, which rigplan writes. Remove the other file so that the configuration takes effect.", ps.unit, st.FragmentPath, ps.unitFile)))
	}
	if len(st.DropInPaths) > 0 {
		diags = append(diags, warnDiag("Drop-ins change the cache agent's unit",
			fmt.Sprintf("%s is changed by %s, which rigplan does not manage. rigplan leaves them alone; remove them if the configuration should say everything.", ps.unit, strings.Join(st.DropInPaths, ", "))))
	}
	return cty.ObjectVal(vals), diags
}

// nullAttrs is every attribute and block of res, null.
func nullAttrs(res *schema.Resource) map[string]cty.Value {
	m := map[string]cty.Value{}
	for name, ty := range res.ImpliedType().AttributeTypes() {
		m[name] = cty.NullVal(ty)
	}
	return m
}

// keepSpelling writes the durations of the state the way the
// configuration spells them when they mean the same ("120s" and "2m"),
// so that an applied configuration never shows a diff.
func keepSpelling(state, config cty.Value) cty.Value {
	if config.IsNull() || !config.IsKnown() {
		return state
	}
	out, err := cty.Transform(state, func(p cty.Path, v cty.Value) (cty.Value, error) {
		if v.IsNull() || !v.IsKnown() || v.Type() != cty.String || len(p) != 2 {
			return v, nil
		}
		c, err := p.Apply(config)
		if err != nil || c.IsNull() || !c.IsKnown() || c.Type() != cty.String {
			return v, nil
		}
		a, errA := parseDuration(v.AsString(), true)
		b, errB := parseDuration(c.AsString(), true)
		if errA == nil && errB == nil && a == b {
			return c, nil
		}
		return v, nil
	})
	if err != nil {
		return state
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
