package nspawn

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/fsutil"
	"github.com/rigplan/rigplan/providers"
)

// Plan proposes a machine's state: its configuration with the image's
// digest (read from the layout when not given), its paths, and the unit
// enabled and running as asked. Only a new name replaces a machine; a new
// image replaces its root in place, between jobs.
func (p *Provider) Plan(ctx context.Context, req *providers.PlanRequest) *providers.PlanResponse {
	prior := req.Prior
	if req.Config.IsNull() {
		var diags hcl.Diagnostics
		if busy := prior.GetAttr("busy"); busy.IsKnown() && !busy.IsNull() && busy.True() {
			diags = append(diags, warnf("Machine busy", "%s runs a job now; deleting it stops the machine and kills the job.", attrString(prior, "name")))
		}
		return &providers.PlanResponse{Planned: req.Config, Diagnostics: diags}
	}
	resp := providers.DefaultPlan(p.schema, req.Config, prior)
	if resp.Planned.IsNull() || !resp.Planned.IsKnown() {
		return resp
	}
	vals := resp.Planned.AsValueMap()
	diags := p.checkNspawn()

	name := vals["name"]
	if name.IsKnown() {
		ps := pathsFor(name.AsString())
		vals["unit"] = cty.StringVal(ps.unit)
		vals["settings_file"] = cty.StringVal(ps.settings)
		vals["dropin_file"] = cty.StringVal(ps.dropIn)
		vals["directory"] = cty.StringVal(ps.dir)
	}
	// The digest the root is to be unpacked from: given, or the layout's.
	if d := req.Config.GetAttr("image_digest"); d.IsNull() {
		vals["image_digest"] = cty.UnknownVal(cty.String)
		if img := vals["image"]; img.IsKnown() {
			switch dg, err := layoutDigest(p.onHost(img.AsString())); {
			case err != nil:
				diags = append(diags, errorf("Unreadable image layout", "%s: %v. Point image at an image's layout (image.NAME.layout).", img.AsString(), err)...)
			case dg != "":
				vals["image_digest"] = cty.StringVal(dg)
			}
		}
	}
	// Status: what is asked, spelt as systemd spells it now when that
	// already says so, so that a settled machine shows no change.
	running, enabled := vals["running"], vals["enabled"]
	vals["active_state"] = cty.UnknownVal(cty.String)
	if running.IsKnown() {
		vals["active_state"] = cty.StringVal(map[bool]string{true: "active", false: "inactive"}[running.True()])
	}
	vals["unit_file_state"] = cty.UnknownVal(cty.String)
	if enabled.IsKnown() {
		vals["unit_file_state"] = cty.StringVal(map[bool]string{true: "enabled", false: "disabled"}[enabled.True()])
	}
	vals["busy"] = cty.False
	if !prior.IsNull() {
		if running.IsKnown() && prior.GetAttr("running").RawEquals(running) {
			vals["active_state"] = prior.GetAttr("active_state")
		}
		if enabled.IsKnown() && prior.GetAttr("enabled").RawEquals(enabled) {
			vals["unit_file_state"] = prior.GetAttr("unit_file_state")
		}
		vals["busy"] = prior.GetAttr("busy")
	}
	planned := cty.ObjectVal(vals)
	diags = append(diags, p.bindNotes(planned)...)
	diags = append(diags, p.jobNotes(prior, planned)...)
	resp.Planned = planned
	resp.Diagnostics = append(resp.Diagnostics, diags...)
	return resp
}

// bindNotes warns about bind sources missing on the host. It is a
// warning at plan time, since another resource of the same apply may
// create the source (the cache agent's socket directory); apply refuses
// to start the machine without it.
func (p *Provider) bindNotes(planned cty.Value) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, attr := range []string{"bind", "bind_read_only"} {
		v := planned.GetAttr(attr)
		if !v.IsWhollyKnown() || v.IsNull() {
			continue
		}
		for _, src := range bindSources(v) {
			if _, err := os.Stat(p.onHost(src)); err != nil {
				diags = append(diags, warnf("Bind source missing",
					"%s of machine %s names %s, which does not exist on this host. Unless a resource of this configuration creates it, apply fails: "+
						"systemd-nspawn refuses to start a machine whose bind source is missing. Create it, or remove the mount.", attr, attrString(planned, "name"), src))
			}
		}
	}
	return diags
}

// bindSources are the host paths of bind mounts ("+" sources are inside
// the machine's root and are not checked).
func bindSources(v cty.Value) []string {
	var out []string
	for _, s := range stringList(v) {
		b, err := parseBind(s)
		if err != nil || strings.HasPrefix(b.source, "+") {
			continue
		}
		out = append(out, b.source)
	}
	return out
}

// jobNotes says what apply does to a running machine.
func (p *Provider) jobNotes(prior, planned cty.Value) hcl.Diagnostics {
	if prior.IsNull() || attrString(prior, "active_state") != "active" {
		return nil
	}
	name := attrString(planned, "name")
	busy := prior.GetAttr("busy").True()
	rootChanges := !prior.GetAttr("image_digest").RawEquals(planned.GetAttr("image_digest")) ||
		!prior.GetAttr("image").RawEquals(planned.GetAttr("image")) ||
		shiftFor(attrString(prior, "private_users"), attrString(prior, "ownership")) != shiftFor(attrString(planned, "private_users"), attrString(planned, "ownership"))
	filesChange := false
	for k := range settingsAttrs(settings{}) {
		if !prior.GetAttr(k).RawEquals(planned.GetAttr(k)) {
			filesChange = true
		}
	}
	switch {
	case rootChanges && busy:
		return hcl.Diagnostics{warnf("Machine busy: its root is replaced after the job",
			"%s runs a job now. Apply unpacks the new root beside the old one, then waits up to job_wait (%s) for the job to end before it stops the machine, swaps the root and starts it again. "+
				"If the job is still running then, apply fails and leaves the machine as it is.", name, attrString(planned, "job_wait"))}
	case rootChanges:
		return hcl.Diagnostics{warnf("The machine will restart", "%s is running and idle; apply stops it, swaps its root for the new image and starts it again.", name)}
	case filesChange && busy:
		return hcl.Diagnostics{warnf("Machine busy: new settings take effect at its next boot",
			"%s runs a job now; apply writes its new settings but does not restart it. They take effect when the machine powers off after the job and systemd starts it again.", name)}
	case filesChange:
		return hcl.Diagnostics{warnf("The machine will restart", "%s is running and idle; apply restarts it so that its new settings take effect.", name)}
	}
	return nil
}

// describe is a machine for messages.
func describe(name string) string { return fmt.Sprintf("machine %s", name) }

// nspawnTemplates are the directories systemd finds
// systemd-nspawn@.service in. The Debian package systemd-container
// installs it with systemd-nspawn and machinectl.
var nspawnTemplates = []string{"/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

// checkNspawn fails the plan of a machine on a host without
// systemd-nspawn, rather than apply failing after it wrote the files.
func (p *Provider) checkNspawn() hcl.Diagnostics {
	for _, d := range nspawnTemplates {
		if ok, _ := fsutil.Exists(p.onHost(filepath.Join(d, unitPrefix+unitSuffix))); ok {
			return nil
		}
	}
	return errorf("systemd-nspawn is not installed",
		"Machines run as systemd-nspawn@NAME.service, and this host has no systemd-nspawn@.service (looked in %s). "+
			"Install the Debian package systemd-container (apt-get install systemd-container), then plan again.", strings.Join(nspawnTemplates, ", "))
}
