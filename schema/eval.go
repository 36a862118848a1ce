package schema

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Sensitive marks values that must never be printed. It travels with a
// value through expressions, as cty marks do.
const Sensitive = "sensitive"

// Scope holds the values that expressions of one configuration can refer
// to. The planner fills it as it walks the dependency graph, so each
// expression sees the values of what it references. It is safe for
// concurrent use.
type Scope struct {
	dir   string
	funcs map[string]function.Function

	mu        sync.RWMutex
	vars      map[string]cty.Value
	locals    map[string]cty.Value
	resources map[string]map[string]cty.Value // type → name → value
}

// NewScope starts a scope with the configuration's input values.
func NewScope(cfg *Config, vars map[string]cty.Value) *Scope {
	s := &Scope{
		dir:       cfg.Dir,
		funcs:     Functions(cfg.Dir),
		vars:      map[string]cty.Value{},
		locals:    map[string]cty.Value{},
		resources: map[string]map[string]cty.Value{},
	}
	for name, v := range vars {
		if decl, ok := cfg.Variables[name]; ok && decl.Sensitive {
			v = v.Mark(Sensitive)
		}
		s.vars[name] = v
	}
	return s
}

// SetLocal records a local value.
func (s *Scope) SetLocal(name string, v cty.Value) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locals[name] = v
}

// SetResource records the value of a whole resource block: an object for a
// plain block, a tuple for count, an object keyed by for_each key.
func (s *Scope) SetResource(typ, name string, v cty.Value) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resources[typ] == nil {
		s.resources[typ] = map[string]cty.Value{}
	}
	s.resources[typ][name] = v
}

// Resource returns a resource block's recorded value.
func (s *Scope) Resource(typ, name string) (cty.Value, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.resources[typ][name]
	return v, ok
}

// Instance carries each.* or count.* for one instance of an expanded block.
type Instance struct {
	Key Key
	// EachValue is each.value for for_each instances.
	EachValue cty.Value
	// Unknown stands for every instance of a block whose count or for_each
	// is not known yet (validate): each.* and count.* are unknown.
	Unknown bool
	// ForEach tells, with Unknown, which of each.* or count.* to provide.
	ForEach bool
}

// EvalContext builds the context for expressions that make the given
// references, for one instance (zero Instance outside expanded blocks).
// Only referenced values are included, so building it stays cheap however
// large the configuration.
func (s *Scope) EvalContext(refs []*Reference, inst Instance) *hcl.EvalContext {
	s.mu.RLock()
	defer s.mu.RUnlock()
	vars := map[string]cty.Value{}
	varObj := map[string]cty.Value{}
	localObj := map[string]cty.Value{}
	resObjs := map[string]map[string]cty.Value{}
	var invalid []string
	for _, r := range refs {
		switch r.Kind {
		case RefInvalid:
			invalid = append(invalid, r.Name)
		case RefVariable:
			varObj[r.Name] = valueOrDynamic(s.vars, r.Name)
		case RefLocal:
			localObj[r.Name] = valueOrDynamic(s.locals, r.Name)
		case RefResource:
			if resObjs[r.Type] == nil {
				resObjs[r.Type] = map[string]cty.Value{}
			}
			resObjs[r.Type][r.Name] = valueOrDynamic(s.resources[r.Type], r.Name)
		case RefPath:
			cwd, _ := os.Getwd()
			root, _ := filepath.Abs(s.dir)
			vars["path"] = cty.ObjectVal(map[string]cty.Value{
				"root":   cty.StringVal(root),
				"module": cty.StringVal(root),
				"cwd":    cty.StringVal(cwd),
			})
		}
	}
	if len(varObj) > 0 {
		vars["var"] = cty.ObjectVal(varObj)
	}
	if len(localObj) > 0 {
		vars["local"] = cty.ObjectVal(localObj)
	}
	for typ, obj := range resObjs {
		vars[typ] = cty.ObjectVal(obj)
	}
	for _, root := range invalid {
		switch root {
		case "var", "local":
			// The declared names stay; the undeclared one reads as unknown.
		default:
			if _, ok := vars[root]; !ok {
				vars[root] = cty.DynamicVal
			}
		}
	}
	switch {
	case inst.Unknown && inst.ForEach:
		vars["each"] = cty.ObjectVal(map[string]cty.Value{"key": cty.UnknownVal(cty.String), "value": cty.DynamicVal})
	case inst.Unknown:
		vars["count"] = cty.ObjectVal(map[string]cty.Value{"index": cty.UnknownVal(cty.Number)})
	case inst.Key.IsStr:
		vars["each"] = cty.ObjectVal(map[string]cty.Value{
			"key":   cty.StringVal(inst.Key.Str),
			"value": inst.EachValue,
		})
	case inst.Key.IsSet:
		vars["count"] = cty.ObjectVal(map[string]cty.Value{"index": cty.NumberIntVal(int64(inst.Key.Int))})
	}
	return &hcl.EvalContext{Variables: vars, Functions: s.funcs}
}

func valueOrDynamic(m map[string]cty.Value, name string) cty.Value {
	if v, ok := m[name]; ok {
		return v
	}
	return cty.DynamicVal
}

// CheckVariables runs the validation blocks of every variable against its
// value. Unknown values (validate without inputs) are not checked.
func (s *Scope) CheckVariables(cfg *Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range cfg.variableNames() {
		decl := cfg.Variables[name]
		val := s.vars[name]
		for _, vv := range decl.Validations {
			ctx := &hcl.EvalContext{
				Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{name: val})},
				Functions: s.funcs,
			}
			cond, d := vv.Condition.Value(ctx)
			diags = append(diags, d...)
			if d.HasErrors() || !cond.IsWhollyKnown() {
				continue
			}
			cond, _ = cond.Unmark()
			if cond.IsNull() || cond.Type() != cty.Bool {
				diags = append(diags, refError(vv.Condition.Range(), "Invalid validation condition",
					"The condition of a validation block must be true or false."))
				continue
			}
			if cond.True() {
				continue
			}
			msg, d := vv.ErrorMessage.Value(ctx)
			diags = append(diags, d...)
			detail := fmt.Sprintf("Variable %q failed its validation.", name)
			if !d.HasErrors() && msg.IsWhollyKnown() && !msg.IsNull() && msg.Type() == cty.String {
				m, _ := msg.Unmark()
				detail = m.AsString()
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for variable",
				Detail:   detail + fmt.Sprintf("\n\nThis was checked by the validation rule at %s.", vv.DeclRange),
				Subject:  decl.DeclRange.Ptr(),
			})
		}
	}
	return diags
}
