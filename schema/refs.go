package schema

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
)

// RefKind is what a reference points at.
type RefKind int

const (
	// RefVariable is var.NAME.
	RefVariable RefKind = iota
	// RefLocal is local.NAME.
	RefLocal
	// RefResource is TYPE.NAME (any instance or attribute of it).
	RefResource
	// RefEach is each.key / each.value inside a for_each block.
	RefEach
	// RefCount is count.index inside a counted block.
	RefCount
	// RefPath is path.root / path.module / path.cwd.
	RefPath
	// RefInvalid is a reference to a name that does not exist. It is kept,
	// with its error reported, so evaluation can go on with an unknown value
	// in its place and find the configuration's other mistakes.
	RefInvalid
)

// Reference is one use of a named value in an expression. References
// between blocks become the edges of the dependency graph.
type Reference struct {
	Kind RefKind
	// Name is the variable, local or resource name; empty for each, count
	// and path.
	Name string
	// Type is the resource type for RefResource.
	Type  string
	Range hcl.Range
}

// Key identifies the graph node the reference depends on: "var.x",
// "local.y", "volume.default"; empty for each, count and path, which are
// not nodes.
func (r *Reference) Key() string {
	switch r.Kind {
	case RefVariable:
		return "var." + r.Name
	case RefLocal:
		return "local." + r.Name
	case RefResource:
		return r.Type + "." + r.Name
	default:
		return ""
	}
}

// References resolves traversals found in expressions against the
// configuration, reporting references to things that are not declared.
// Those are still returned (to a name with no node behind it, or as
// RefInvalid), so evaluation can treat them as unknown and report the
// configuration's other mistakes in the same run.
func (cfg *Config) References(travs []hcl.Traversal, schemas Schemas) ([]*Reference, hcl.Diagnostics) {
	var refs []*Reference
	var diags hcl.Diagnostics
	for _, t := range travs {
		ref, d := cfg.reference(t, schemas)
		diags = append(diags, d...)
		if ref == nil && d.HasErrors() {
			// Stand in for the missing value with an unknown one.
			ref = &Reference{Kind: RefInvalid, Name: t.RootName(), Range: t.SourceRange()}
		}
		if ref != nil {
			refs = append(refs, ref)
		}
	}
	return refs, diags
}

func (cfg *Config) reference(t hcl.Traversal, schemas Schemas) (*Reference, hcl.Diagnostics) {
	root := t.RootName()
	rng := t.SourceRange()
	attrName := func(what string) (string, hcl.Diagnostics) {
		if len(t) < 2 {
			return "", hcl.Diagnostics{refError(rng, "Invalid reference",
				fmt.Sprintf("A reference to %s needs a name after the dot, e.g. %s.name.", what, root))}
		}
		a, ok := t[1].(hcl.TraverseAttr)
		if !ok {
			return "", hcl.Diagnostics{refError(rng, "Invalid reference",
				fmt.Sprintf("Write %s.name, not an index.", root))}
		}
		return a.Name, nil
	}
	switch root {
	case "var":
		name, d := attrName("a variable")
		if d != nil {
			return nil, d
		}
		if _, ok := cfg.Variables[name]; !ok {
			return &Reference{Kind: RefVariable, Name: name, Range: rng}, hcl.Diagnostics{refError(rng, "Reference to undeclared input variable",
				fmt.Sprintf("No variable %q is declared. Declare it in a variable block.%s", name, cfg.suggestVariable(name)))}
		}
		return &Reference{Kind: RefVariable, Name: name, Range: rng}, nil
	case "local":
		name, d := attrName("a local value")
		if d != nil {
			return nil, d
		}
		if _, ok := cfg.Locals[name]; !ok {
			hint := ""
			if s := nameSuggestion(name, keys(cfg.Locals)); s != "" {
				hint = fmt.Sprintf(" Did you mean %q?", s)
			}
			return &Reference{Kind: RefLocal, Name: name, Range: rng}, hcl.Diagnostics{refError(rng, "Reference to undeclared local value",
				fmt.Sprintf("No local value %q is defined in a locals block.%s", name, hint))}
		}
		return &Reference{Kind: RefLocal, Name: name, Range: rng}, nil
	case "each":
		return &Reference{Kind: RefEach, Range: rng}, nil
	case "count":
		return &Reference{Kind: RefCount, Range: rng}, nil
	case "path":
		return &Reference{Kind: RefPath, Range: rng}, nil
	}
	if _, ok := schemas.Schema(root); ok {
		name, d := attrName("a resource")
		if d != nil {
			return nil, d
		}
		if cfg.ResourceBlock(Address{Type: root, Name: name}) == nil {
			return &Reference{Kind: RefResource, Type: root, Name: name, Range: rng}, hcl.Diagnostics{refError(rng, "Reference to undeclared resource",
				fmt.Sprintf("No %s block named %q is declared.%s", root, name, cfg.suggestResource(root, name)))}
		}
		return &Reference{Kind: RefResource, Type: root, Name: name, Range: rng}, nil
	}
	hint := ""
	if s := nameSuggestion(root, append([]string{"var", "local", "each", "count", "path"}, schemas.Types()...)); s != "" {
		hint = fmt.Sprintf(" Did you mean %q?", s)
	}
	return nil, hcl.Diagnostics{refError(rng, "Unknown reference",
		fmt.Sprintf("%q is not something an expression can refer to. References start with var., local., each., count., path. or a resource type.%s", root, hint))}
}

func (cfg *Config) suggestResource(typ, name string) string {
	var names []string
	for _, r := range cfg.Resources {
		if r.Type == typ {
			names = append(names, r.Name)
		}
	}
	if s := nameSuggestion(name, names); s != "" {
		return fmt.Sprintf(" Did you mean %s.%s?", typ, s)
	}
	return ""
}

// ResourceTraversals lists every traversal in a resource block: its
// meta-arguments and its body as the type's schema reads it.
func (r *ResourceBlock) ResourceTraversals() []hcl.Traversal {
	var travs []hcl.Traversal
	if r.Count != nil {
		travs = append(travs, r.Count.Variables()...)
	}
	if r.ForEach != nil {
		travs = append(travs, r.ForEach.Variables()...)
	}
	travs = append(travs, r.DependsOn...)
	if r.Schema != nil {
		travs = append(travs, hcldec.Variables(r.Body, r.Schema.Spec())...)
	}
	return travs
}

func refError(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
