package planner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"github.com/zclconf/go-cty/cty/msgpack"

	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// planFileVersion changes whenever the file's shape does; an older or newer
// file is refused rather than misread.
const planFileVersion = 1

// SavedPlan is a plan written by `rigplan plan -out FILE`: the exact
// configuration and inputs it was made from, the options, and the changes
// the operator reviewed. Applying it re-plans from the same configuration
// and refuses to go on if the host no longer gives the same changes.
type SavedPlan struct {
	Version        int                   `json:"rigplan_plan_format"`
	RigplanVersion string                `json:"rigplan_version"`
	Dir            string                `json:"dir"`
	Sources        map[string]string     `json:"sources"`
	Variables      map[string]savedValue `json:"variables"`
	Targets        []string              `json:"targets,omitempty"`
	Replace        []string              `json:"replace,omitempty"`
	AllowDataLoss  bool                  `json:"allow_data_loss,omitempty"`
	Destroy        bool                  `json:"destroy,omitempty"`
	Changes        []savedChange         `json:"changes"`
}

type savedValue struct {
	Type  json.RawMessage `json:"type"`
	Value json.RawMessage `json:"value"`
}

// savedChange keeps values as msgpack, which, unlike JSON, can carry
// unknown values.
type savedChange struct {
	Addr   string `json:"address"`
	Action string `json:"action"`
	Before []byte `json:"before"`
	After  []byte `json:"after"`
	// Reason and ReplacePaths are kept for `rigplan show`.
	Reason       string   `json:"reason,omitempty"`
	ReplacePaths []string `json:"replace_paths,omitempty"`
}

// Save writes the plan to path, readable only by its owner: input values
// may be sensitive.
func (p *Plan) Save(path, version string, dir string, reg *providers.Registry) error {
	sp := SavedPlan{
		Version:        planFileVersion,
		RigplanVersion: version,
		Dir:            dir,
		Sources:        map[string]string{},
		Variables:      map[string]savedValue{},
		AllowDataLoss:  p.Options.AllowDataLoss,
		Destroy:        p.Options.Destroy,
	}
	for name, src := range p.Sources {
		sp.Sources[name] = string(src)
	}
	for name, v := range p.Vars {
		ty, err := ctyjson.MarshalType(v.Type())
		if err != nil {
			return fmt.Errorf("saving variable %q: %w", name, err)
		}
		val, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			return fmt.Errorf("saving variable %q: %w", name, err)
		}
		sp.Variables[name] = savedValue{Type: ty, Value: val}
	}
	for _, t := range p.Options.Targets {
		sp.Targets = append(sp.Targets, t.String())
	}
	for _, r := range p.Options.Replace {
		sp.Replace = append(sp.Replace, r.String())
	}
	changes, err := encodeChanges(p.Changes, reg)
	if err != nil {
		return err
	}
	sp.Changes = changes
	b, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

func encodeChanges(changes []*Change, reg *providers.Registry) ([]savedChange, error) {
	out := make([]savedChange, 0, len(changes))
	for _, c := range changes {
		res, ok := reg.Schema(c.Addr.Type)
		if !ok {
			return nil, fmt.Errorf("unknown resource type %q", c.Addr.Type)
		}
		ty := res.ImpliedType()
		before, err := msgpack.Marshal(c.Before, ty)
		if err != nil {
			return nil, fmt.Errorf("saving %s: %w", c.Addr, err)
		}
		after, err := msgpack.Marshal(c.After, ty)
		if err != nil {
			return nil, fmt.Errorf("saving %s: %w", c.Addr, err)
		}
		sc := savedChange{Addr: c.Addr.String(), Action: c.Action.String(), Before: before, After: after, Reason: string(c.Reason)}
		for _, p := range c.ReplacePaths {
			sc.ReplacePaths = append(sc.ReplacePaths, schema.PathString(p))
		}
		out = append(out, sc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out, nil
}

// LoadPlan reads a saved plan.
func LoadPlan(path string) (*SavedPlan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var sp SavedPlan
	if err := json.Unmarshal(b, &sp); err != nil {
		return nil, fmt.Errorf("%s is not a rigplan plan file: %w", path, err)
	}
	if sp.Version != planFileVersion {
		return nil, fmt.Errorf("%s is a plan file of format %d, this rigplan reads format %d; make the plan again with this version", path, sp.Version, planFileVersion)
	}
	return &sp, nil
}

// Config returns the configuration sources the plan was made from.
func (sp *SavedPlan) Config() map[string][]byte {
	out := map[string][]byte{}
	for name, src := range sp.Sources {
		out[name] = []byte(src)
	}
	return out
}

// Vars returns the input values the plan was made with.
func (sp *SavedPlan) Vars() (map[string]cty.Value, error) {
	out := map[string]cty.Value{}
	for name, sv := range sp.Variables {
		ty, err := ctyjson.UnmarshalType(sv.Type)
		if err != nil {
			return nil, fmt.Errorf("variable %q in plan file: %w", name, err)
		}
		v, err := ctyjson.Unmarshal(sv.Value, ty)
		if err != nil {
			return nil, fmt.Errorf("variable %q in plan file: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

// Options returns the options the plan was made with.
func (sp *SavedPlan) Options() (Options, error) {
	opts := Options{AllowDataLoss: sp.AllowDataLoss, Destroy: sp.Destroy}
	for _, t := range sp.Targets {
		a, err := schema.ParseAddress(t)
		if err != nil {
			return opts, err
		}
		opts.Targets = append(opts.Targets, a)
	}
	for _, r := range sp.Replace {
		a, err := schema.ParseAddress(r)
		if err != nil {
			return opts, err
		}
		opts.Replace = append(opts.Replace, a)
	}
	return opts, nil
}

// CheckFresh compares a plan made now with the saved one. Any difference
// (an object changed on the host, appeared or vanished) makes the saved
// plan stale: the operator approved something that would no longer happen.
func (sp *SavedPlan) CheckFresh(now *Plan, reg *providers.Registry) error {
	fresh, err := encodeChanges(now.Changes, reg)
	if err != nil {
		return err
	}
	old := map[string]savedChange{}
	for _, c := range sp.Changes {
		old[c.Addr] = c
	}
	for _, c := range fresh {
		o, ok := old[c.Addr]
		switch {
		case !ok:
			return fmt.Errorf("%s would now %s, which the saved plan did not include", c.Addr, c.Action)
		case o.Action != c.Action:
			return fmt.Errorf("%s would now %s instead of %s", c.Addr, c.Action, o.Action)
		case !bytes.Equal(o.Before, c.Before):
			return fmt.Errorf("%s changed on the host since the plan was made", c.Addr)
		case !bytes.Equal(o.After, c.After):
			return fmt.Errorf("%s would now become something other than the plan showed", c.Addr)
		}
		delete(old, c.Addr)
	}
	for addr := range old {
		return fmt.Errorf("%s is no longer part of the plan", addr)
	}
	return nil
}

// Plan rebuilds the saved plan's changes, for `rigplan show FILE`.
func (sp *SavedPlan) Plan(reg *providers.Registry) (*Plan, error) {
	opts, err := sp.Options()
	if err != nil {
		return nil, err
	}
	p := &Plan{Options: opts, Sources: sp.Config()}
	for _, sc := range sp.Changes {
		addr, err := schema.ParseAddress(sc.Addr)
		if err != nil {
			return nil, err
		}
		res, ok := reg.Schema(addr.Type)
		if !ok {
			return nil, fmt.Errorf("plan file names unknown resource type %q", addr.Type)
		}
		ty := res.ImpliedType()
		before, err := msgpack.Unmarshal(sc.Before, ty)
		if err != nil {
			return nil, fmt.Errorf("%s in plan file: %w", sc.Addr, err)
		}
		after, err := msgpack.Unmarshal(sc.After, ty)
		if err != nil {
			return nil, fmt.Errorf("%s in plan file: %w", sc.Addr, err)
		}
		c := &Change{Addr: addr, Action: parseAction(sc.Action), Before: before, After: after, Reason: Reason(sc.Reason)}
		for _, ps := range sc.ReplacePaths {
			if path, err := schema.ParsePath(ps); err == nil {
				c.ReplacePaths = append(c.ReplacePaths, path)
			}
		}
		p.Changes = append(p.Changes, c)
	}
	return p, nil
}

func parseAction(s string) providers.Action {
	for _, a := range []providers.Action{providers.NoOp, providers.Create, providers.Update, providers.Replace, providers.Delete} {
		if a.String() == s {
			return a
		}
	}
	return providers.NoOp
}
