package view

import (
	"encoding/json"
	"io"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/rigplan/rigplan/planner"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/schema"
)

// jsonPlan follows the shape of Terraform's machine-readable plan
// (`terraform show -json`), so that policy tools written for it, such as
// conftest/OPA rules over resource_changes, work unchanged.
type jsonPlan struct {
	FormatVersion   string                      `json:"format_version"`
	RigplanVersion  string                      `json:"rigplan_version"`
	ResourceChanges []jsonResourceChange        `json:"resource_changes"`
	OutputChanges   map[string]jsonOutputChange `json:"output_changes,omitempty"`
	Errored         bool                        `json:"errored"`
}

type jsonResourceChange struct {
	Address      string     `json:"address"`
	Mode         string     `json:"mode"`
	Type         string     `json:"type"`
	Name         string     `json:"name"`
	Index        any        `json:"index,omitempty"`
	ProviderName string     `json:"provider_name"`
	Change       jsonChange `json:"change"`
	ActionReason string     `json:"action_reason,omitempty"`
}

type jsonChange struct {
	Actions         []string        `json:"actions"`
	Before          json.RawMessage `json:"before"`
	After           json.RawMessage `json:"after"`
	AfterUnknown    any             `json:"after_unknown"`
	BeforeSensitive any             `json:"before_sensitive"`
	AfterSensitive  any             `json:"after_sensitive"`
	ReplacePaths    [][]any         `json:"replace_paths,omitempty"`
}

type jsonOutputChange struct {
	Actions      []string        `json:"actions"`
	Before       json.RawMessage `json:"before"`
	After        json.RawMessage `json:"after"`
	AfterUnknown bool            `json:"after_unknown"`
	Sensitive    bool            `json:"sensitive"`
}

// WritePlanJSON prints the plan as one JSON document.
func WritePlanJSON(w io.Writer, p *planner.Plan, schemas SchemaFunc, version string) error {
	out := jsonPlan{FormatVersion: "1.2", RigplanVersion: version, ResourceChanges: []jsonResourceChange{}}
	for _, c := range p.Changes {
		res, ok := schemas(c.Addr.Type)
		if !ok {
			continue
		}
		rc := jsonResourceChange{
			Address:      c.Addr.String(),
			Mode:         "managed",
			Type:         c.Addr.Type,
			Name:         c.Addr.Name,
			ProviderName: "rigplan/" + res.Provider,
			ActionReason: string(c.Reason),
			Change: jsonChange{
				Actions:         jsonActions(c.Action),
				Before:          valueJSON(redact(c.Before, res, nil)),
				After:           valueJSON(redact(c.After, res, c.SensitivePaths)),
				AfterUnknown:    unknownShape(c.After),
				BeforeSensitive: sensitiveShape(c.Before, res, nil),
				AfterSensitive:  sensitiveShape(c.After, res, c.SensitivePaths),
			},
		}
		switch {
		case c.Addr.Key.IsStr:
			rc.Index = c.Addr.Key.Str
		case c.Addr.Key.IsSet:
			rc.Index = c.Addr.Key.Int
		}
		for _, path := range c.ReplacePaths {
			rc.Change.ReplacePaths = append(rc.Change.ReplacePaths, pathSteps(path))
		}
		out.ResourceChanges = append(out.ResourceChanges, rc)
	}
	if len(p.Outputs) > 0 {
		out.OutputChanges = map[string]jsonOutputChange{}
		for _, o := range p.Outputs {
			out.OutputChanges[o.Name] = jsonOutputChange{
				Actions:      []string{"create"},
				Before:       json.RawMessage("null"),
				After:        valueJSON(o.Value),
				AfterUnknown: !o.Value.IsWhollyKnown(),
				Sensitive:    o.Sensitive,
			}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func jsonActions(a providers.Action) []string {
	switch a {
	case providers.Replace:
		return []string{"delete", "create"}
	default:
		return []string{a.String()}
	}
}

// valueJSON encodes a value with unknown parts as null, as Terraform does
// (after_unknown tells where they are).
func valueJSON(v cty.Value) json.RawMessage {
	if v == cty.NilVal || v.IsNull() {
		return json.RawMessage("null")
	}
	v, _ = v.UnmarkDeep()
	known, err := cty.Transform(v, func(_ cty.Path, v cty.Value) (cty.Value, error) {
		if !v.IsKnown() {
			return cty.NullVal(v.Type()), nil
		}
		return v, nil
	})
	if err != nil {
		return json.RawMessage("null")
	}
	b, err := ctyjson.Marshal(known, known.Type())
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// redact replaces sensitive attributes by null. Terraform's JSON plan keeps
// them; rigplan's never prints a sensitive value anywhere, and
// after_sensitive still tells where one was.
func redact(v cty.Value, res *schema.Resource, paths []cty.Path) cty.Value {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() {
		return v
	}
	out, err := cty.Transform(v, func(p cty.Path, e cty.Value) (cty.Value, error) {
		if len(p) == 1 {
			if s, ok := p[0].(cty.GetAttrStep); ok {
				if a := res.Attribute(s.Name); a != nil && a.Sensitive {
					return cty.NullVal(e.Type()), nil
				}
			}
		}
		for _, sp := range paths {
			if p.Equals(sp) {
				return cty.NullVal(e.Type()), nil
			}
		}
		return e, nil
	})
	if err != nil {
		return cty.NullVal(v.Type())
	}
	return out
}

// unknownShape mirrors a value's structure with true where it is unknown.
func unknownShape(v cty.Value) any {
	switch {
	case v == cty.NilVal || v.IsNull():
		return false
	case !v.IsKnown():
		return true
	}
	ty := v.Type()
	switch {
	case ty.IsObjectType() || ty.IsMapType():
		out := map[string]any{}
		for k, e := range v.AsValueMap() {
			if s := unknownShape(e); s != false {
				out[k] = s
			}
		}
		return out
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		out := []any{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, unknownShape(e))
		}
		return out
	}
	return false
}

// sensitiveShape marks the schema's sensitive attributes and the paths a
// sensitive input flowed into.
func sensitiveShape(v cty.Value, res *schema.Resource, paths []cty.Path) any {
	if v == cty.NilVal || v.IsNull() {
		return false
	}
	out := map[string]any{}
	for _, a := range res.Attributes {
		if a.Sensitive {
			out[a.Name] = true
		}
	}
	for _, p := range paths {
		if len(p) > 0 {
			if s, ok := p[0].(cty.GetAttrStep); ok {
				out[s.Name] = true
			}
		}
	}
	return out
}

func pathSteps(p cty.Path) []any {
	var out []any
	for _, step := range p {
		switch s := step.(type) {
		case cty.GetAttrStep:
			out = append(out, s.Name)
		case cty.IndexStep:
			if s.Key.Type() == cty.String {
				out = append(out, s.Key.AsString())
			} else if s.Key.Type() == cty.Number {
				i, _ := s.Key.AsBigFloat().Int64()
				out = append(out, i)
			}
		}
	}
	return out
}
