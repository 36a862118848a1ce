package github

import (
	"context"
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"golang.org/x/mod/semver"

	"github.com/rigplan/rigplan/internal/ghapi"
	"github.com/rigplan/rigplan/internal/runnerconf"
	"github.com/rigplan/rigplan/schema"
)

// configFrom is the policy file of a fully known configuration.
func configFrom(addr schema.Address, v cty.Value) runnerconf.Config {
	name := fileName(addr)
	c := runnerconf.Config{
		Address:       addr.String(),
		URL:           v.GetAttr("api_url").AsString(),
		Group:         v.GetAttr("runner_group").AsString(),
		NamePrefix:    v.GetAttr("name_prefix").AsString(),
		Ephemeral:     v.GetAttr("ephemeral").True(),
		DisableUpdate: v.GetAttr("disable_update").True(),
		Labels:        append(stringsOf(v.GetAttr("labels")), runnerconf.Label(name)),
		Machines:      stringsOf(v.GetAttr("machines")),
	}
	for _, k := range []string{ghapi.Repository, ghapi.Organization, ghapi.Enterprise} {
		if s := v.GetAttr(k); !s.IsNull() {
			c.Scope = ghapi.Scope{Kind: k, Name: s.AsString()}
		}
	}
	if m := v.GetAttr("min_version"); !m.IsNull() {
		c.MinVersion = m.AsString()
	}
	if t := v.GetAttr("token_file"); !t.IsNull() {
		c.Auth.TokenFile = t.AsString()
	}
	if app := v.GetAttr("app"); !app.IsNull() {
		id, _ := app.GetAttr("id").AsBigFloat().Int64()
		inst, _ := app.GetAttr("installation_id").AsBigFloat().Int64()
		c.Auth.AppID, c.Auth.InstallationID = id, inst
		c.Auth.PrivateKeyFile = app.GetAttr("private_key_file").AsString()
	}
	return c
}

// stateFrom is the state of a policy file and what GitHub shows.
func (p *Provider) stateFrom(name string, c runnerconf.Config, d drift) cty.Value {
	vals := map[string]cty.Value{}
	for n, ty := range p.schema.ImpliedType().AttributeTypes() {
		vals[n] = cty.NullVal(ty)
	}
	for _, k := range []string{ghapi.Repository, ghapi.Organization, ghapi.Enterprise} {
		if c.Scope.Kind == k {
			vals[k] = cty.StringVal(c.Scope.Name)
		}
	}
	label := runnerconf.Label(name)
	vals["labels"] = stringList(slices.DeleteFunc(slices.Clone(c.Labels), func(l string) bool { return l == label }))
	vals["runner_group"] = cty.StringVal(c.Group)
	vals["name_prefix"] = cty.StringVal(c.NamePrefix)
	vals["ephemeral"] = cty.BoolVal(c.Ephemeral)
	vals["disable_update"] = cty.BoolVal(c.DisableUpdate)
	if c.MinVersion != "" {
		vals["min_version"] = cty.StringVal(c.MinVersion)
	}
	vals["machines"] = stringList(c.Machines)
	if c.Auth.TokenFile != "" {
		vals["token_file"] = cty.StringVal(c.Auth.TokenFile)
	}
	if c.Auth.PrivateKeyFile != "" {
		vals["app"] = cty.ObjectVal(map[string]cty.Value{
			"id":               cty.NumberIntVal(c.Auth.AppID),
			"installation_id":  cty.NumberIntVal(c.Auth.InstallationID),
			"private_key_file": cty.StringVal(c.Auth.PrivateKeyFile),
		})
	}
	vals["api_url"] = cty.StringVal(c.URL)
	vals["label"] = cty.StringVal(label)
	vals["config_file"] = cty.StringVal(runnerconf.Path("/", name))
	vals["orphans"] = stringList(names(d.orphans))
	vals["outdated"] = stringList(names(d.outdated))
	return cty.ObjectVal(vals)
}

// drift is what GitHub shows that the policy does not want.
type drift struct {
	orphans, outdated []ghapi.Runner
	// idle are rigplan's other runners without a job (a running machine's
	// current boot): they go only with the block.
	idle []ghapi.Runner
}

// githubSide lists the scope's runners and sorts out rigplan's that
// should go: offline ones that no running machine's current boot stands
// behind (a machine that died mid-job, a boot that never connected), and
// those older than min_version.
func (p *Provider) githubSide(ctx context.Context, cl ghapi.API, name string, c runnerconf.Config) (drift, error) {
	runners, err := cl.ListRunners(ctx, c.Scope)
	if err != nil {
		return drift{}, err
	}
	live := map[string]bool{}
	if len(c.Machines) > 0 {
		units := make([]string, len(c.Machines))
		for i, m := range c.Machines {
			units[i] = "systemd-nspawn@" + m + ".service"
		}
		st, err := p.sd.Show(ctx, units...)
		if err != nil {
			return drift{}, err
		}
		for i, s := range st {
			if s.Active() && s.InvocationID != "" {
				live[runnerconf.RunnerName(c.NamePrefix, c.Machines[i], s.InvocationID)] = true
			}
		}
	}
	var d drift
	label := runnerconf.Label(name)
	for _, r := range runners {
		if !slices.ContainsFunc(r.Labels, func(l string) bool { return strings.EqualFold(l, label) }) {
			continue // not rigplan's: never touched
		}
		switch {
		case r.Status == "offline" && !r.Busy && !live[r.Name]:
			d.orphans = append(d.orphans, r)
		case c.MinVersion != "" && r.Version != "" && olderThan(r.Version, c.MinVersion):
			d.outdated = append(d.outdated, r)
		case !r.Busy:
			d.idle = append(d.idle, r)
		}
	}
	return d, nil
}

// olderThan compares runner versions, MAJOR.MINOR.PATCH.
func olderThan(v, floor string) bool {
	return semver.Compare("v"+v, "v"+floor) < 0
}

func names(rs []ghapi.Runner) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}

func stringsOf(v cty.Value) []string {
	var out []string
	for _, e := range v.AsValueSlice() {
		out = append(out, e.AsString())
	}
	return out
}

func stringList(ss []string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(ss))
	for i, s := range ss {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}
