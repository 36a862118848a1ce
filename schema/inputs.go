package schema

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// EnvPrefix starts the environment variables that set input variables:
// RIGPLAN_VAR_pool_size=30G sets var.pool_size.
const EnvPrefix = "RIGPLAN_VAR_"

// InputArg is one -var or -var-file flag, kept in command-line order
// because a later flag overrides an earlier one.
type InputArg struct {
	// Var is "name=value" for -var.
	Var string
	// File is the path given to -var-file.
	File string
}

// raw is a value for a variable before its type is applied.
type raw struct {
	val    cty.Value
	text   *string // unparsed text from -var or the environment
	source string
	rng    *hcl.Range
}

// InputValues resolves every declared variable from, in increasing
// precedence: its default, RIGPLAN_VAR_name in env, then -var-file and -var
// flags in the order given. With allowUnset (validate), a required variable
// nobody set is unknown instead of an error.
func (cfg *Config) InputValues(env []string, args []InputArg, allowUnset bool) (map[string]cty.Value, hcl.Diagnostics) {
	given := map[string]raw{}
	var diags hcl.Diagnostics
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		name = strings.TrimPrefix(name, EnvPrefix)
		if _, declared := cfg.Variables[name]; !declared {
			continue // the environment may serve several configurations
		}
		given[name] = raw{text: &value, source: "environment variable " + EnvPrefix + name}
	}
	for _, a := range args {
		switch {
		case a.File != "":
			d := cfg.readVarFile(a.File, given)
			diags = append(diags, d...)
		default:
			name, value, ok := strings.Cut(a.Var, "=")
			if !ok || name == "" {
				diags = append(diags, errDiag("Invalid -var option",
					fmt.Sprintf("%q is not name=value. Write for example -var pool_size=30G.", a.Var)))
				continue
			}
			if _, declared := cfg.Variables[name]; !declared {
				diags = append(diags, errDiag("Value for undeclared variable",
					fmt.Sprintf("-var %s: the configuration declares no variable %q. Declare it with a variable block, or fix the name.%s", a.Var, name, cfg.suggestVariable(name))))
				continue
			}
			given[name] = raw{text: &value, source: "-var " + name}
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}

	values := map[string]cty.Value{}
	for _, name := range cfg.variableNames() {
		v := cfg.Variables[name]
		r, ok := given[name]
		switch {
		case ok:
			val, d := v.fromRaw(r)
			diags = append(diags, d...)
			values[name] = val
		case !v.Required():
			values[name] = v.Default
		case allowUnset:
			values[name] = cty.UnknownVal(v.Type)
		default:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail:   fmt.Sprintf("Variable %q has no default. Set it with -var %s=..., a -var-file, or the environment variable %s%s.", name, name, EnvPrefix, name),
				Subject:  v.DeclRange.Ptr(),
			})
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return values, diags
}

func (v *Variable) fromRaw(r raw) (cty.Value, hcl.Diagnostics) {
	val := r.val
	if r.text != nil {
		if v.ParsesAsString() {
			val = cty.StringVal(*r.text)
		} else {
			bad := hcl.Diagnostics{errDiag("Invalid value for variable",
				fmt.Sprintf("%s: %q is not a valid value of type %s. Write it as in HCL, e.g. 3, true, [\"a\", \"b\"] or {key = \"value\"}.", r.source, *r.text, typeString(v.Type)))}
			expr, d := hclsyntax.ParseExpression([]byte(*r.text), r.source, hcl.InitialPos)
			if d.HasErrors() {
				return cty.DynamicVal, bad
			}
			var vd hcl.Diagnostics
			val, vd = expr.Value(nil)
			if vd.HasErrors() {
				return cty.DynamicVal, bad
			}
		}
	}
	conv, err := v.convert(val)
	if err != nil {
		return cty.DynamicVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail:   fmt.Sprintf("The value for variable %q from %s does not match its type %s: %s.", v.Name, r.source, typeString(v.Type), err),
			Subject:  r.rng,
		}}
	}
	return conv, nil
}

func (cfg *Config) readVarFile(path string, given map[string]raw) hcl.Diagnostics {
	src, err := os.ReadFile(path)
	if err != nil {
		return hcl.Diagnostics{errDiag("Cannot read variables file", fmt.Sprintf("%v. Check the path given to -var-file.", err))}
	}
	parser := hclparse.NewParser()
	var f *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(path, ".json") {
		f, diags = parser.ParseJSON(src, path)
	} else {
		f, diags = parser.ParseHCL(src, path)
	}
	if diags.HasErrors() {
		return diags
	}
	cfg.Files[path] = f
	attrs, d := f.Body.JustAttributes()
	diags = append(diags, d...)
	for _, name := range sortedAttrNames(attrs) {
		a := attrs[name]
		if _, declared := cfg.Variables[name]; !declared {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("The configuration declares no variable %q; this value is ignored.%s", name, cfg.suggestVariable(name)),
				Subject:  a.NameRange.Ptr(),
			})
			continue
		}
		val, vd := a.Expr.Value(nil)
		diags = append(diags, vd...)
		if vd.HasErrors() {
			continue
		}
		given[name] = raw{val: val, source: path, rng: a.Expr.Range().Ptr()}
	}
	return diags
}

func (cfg *Config) variableNames() []string {
	names := make([]string, 0, len(cfg.Variables))
	for n := range cfg.Variables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (cfg *Config) suggestVariable(name string) string {
	if s := nameSuggestion(name, cfg.variableNames()); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}

func errDiag(summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail}
}
