package schema

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Config is one configuration directory, parsed but not evaluated. Every
// block keeps its source range so that any later error can point at it.
type Config struct {
	// Dir is the directory the files were read from.
	Dir string
	// Files are the parsed files by the name diagnostics print.
	Files map[string]*hcl.File
	// Sources are the files' bytes, kept so a saved plan can carry the exact
	// configuration it was made from.
	Sources map[string][]byte

	Variables map[string]*Variable
	Locals    map[string]*Local
	Outputs   map[string]*Output
	// Resources are in source order (files by name, blocks by position).
	Resources []*ResourceBlock
}

// Schemas is what the loader needs to know about resource types: the
// provider registry satisfies it.
type Schemas interface {
	Schema(typ string) (*Resource, bool)
	Types() []string
}

// Local is one named value in a `locals` block.
type Local struct {
	Name      string
	Expr      hcl.Expression
	DeclRange hcl.Range
}

// Output is an `output` block.
type Output struct {
	Name        string
	Description string
	Expr        hcl.Expression
	Sensitive   bool
	DeclRange   hcl.Range
}

// Load parses every *.hcl file in dir (not its subdirectories).
func Load(dir string, schemas Schemas) (*Config, hcl.Diagnostics) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration directory",
			Detail:   fmt.Sprintf("%v. Give the directory that holds your *.hcl files.", err),
		}}
	}
	sources := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot read configuration file",
				Detail:   err.Error(),
			}}
		}
		// Files are named by their path as the operator gave it, so that
		// diagnostics (and GitHub annotations, which need a path from the
		// repository root) point at the right file.
		sources[filepath.Join(dir, e.Name())] = b
	}
	if len(sources) == 0 {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No configuration files",
			Detail:   fmt.Sprintf("Directory %s holds no *.hcl files. Run rigplan in the directory of your configuration, or give it as an argument.", dir),
		}}
	}
	return LoadSources(dir, sources, schemas)
}

// LoadSources parses configuration files given as bytes by file name, as a
// saved plan carries them. dir is where relative paths in the
// configuration (file(), hashfiles()) are resolved.
func LoadSources(dir string, sources map[string][]byte, schemas Schemas) (*Config, hcl.Diagnostics) {
	cfg := &Config{
		Dir:       dir,
		Files:     map[string]*hcl.File{},
		Sources:   sources,
		Variables: map[string]*Variable{},
		Locals:    map[string]*Local{},
		Outputs:   map[string]*Output{},
	}
	names := make([]string, 0, len(sources))
	for name := range sources {
		names = append(names, name)
	}
	sort.Strings(names)

	parser := hclparse.NewParser()
	var diags hcl.Diagnostics
	seen := map[string]hcl.Range{}
	for _, name := range names {
		f, d := parser.ParseHCL(sources[name], name)
		diags = append(diags, d...)
		if f == nil {
			continue
		}
		cfg.Files[name] = f
		diags = append(diags, cfg.addFile(f, schemas, seen)...)
	}
	return cfg, diags
}

func topSchema(schemas Schemas) *hcl.BodySchema {
	s := &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "output", LabelNames: []string{"name"}},
	}}
	for _, t := range schemas.Types() {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: t, LabelNames: []string{"name"}})
	}
	return s
}

func (cfg *Config) addFile(f *hcl.File, schemas Schemas, seen map[string]hcl.Range) hcl.Diagnostics {
	content, diags := f.Body.Content(topSchema(schemas))
	for _, block := range content.Blocks {
		if block.Type != "locals" {
			name := block.Labels[0]
			if !hclsyntax.ValidIdentifier(name) {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid name",
					Detail:   fmt.Sprintf("%q is not a valid name for a %s block. A name must start with a letter or underscore and contain only letters, digits, underscores and dashes.", name, block.Type),
					Subject:  block.LabelRanges[0].Ptr(),
				})
				continue
			}
			key := block.Type + "." + name
			if prev, dup := seen[key]; dup {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  fmt.Sprintf("Duplicate %s %q", block.Type, name),
					Detail:   fmt.Sprintf("A %s named %q was already declared at %s. Names must be unique within their block type; rename one of them.", block.Type, name, prev),
					Subject:  block.DefRange.Ptr(),
				})
				continue
			}
			seen[key] = block.DefRange
		}
		switch block.Type {
		case "variable":
			v, d := decodeVariable(block)
			diags = append(diags, d...)
			if v != nil {
				cfg.Variables[v.Name] = v
			}
		case "locals":
			diags = append(diags, cfg.addLocals(block, seen)...)
		case "output":
			o, d := decodeOutput(block)
			diags = append(diags, d...)
			if o != nil {
				cfg.Outputs[o.Name] = o
			}
		default:
			res, _ := schemas.Schema(block.Type)
			r, d := decodeResourceBlock(block, res)
			diags = append(diags, d...)
			if r != nil {
				cfg.Resources = append(cfg.Resources, r)
			}
		}
	}
	return diags
}

func (cfg *Config) addLocals(block *hcl.Block, seen map[string]hcl.Range) hcl.Diagnostics {
	attrs, diags := block.Body.JustAttributes()
	for _, name := range sortedAttrNames(attrs) {
		a := attrs[name]
		key := "local." + name
		if prev, dup := seen[key]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Duplicate local value %q", name),
				Detail:   fmt.Sprintf("Local value %q was already defined at %s. Rename one of them.", name, prev),
				Subject:  a.NameRange.Ptr(),
			})
			continue
		}
		seen[key] = a.Range
		cfg.Locals[name] = &Local{Name: name, Expr: a.Expr, DeclRange: a.Range}
	}
	return diags
}

func decodeOutput(block *hcl.Block) (*Output, hcl.Diagnostics) {
	content, diags := block.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "value", Required: true},
		{Name: "description"},
		{Name: "sensitive"},
	}})
	o := &Output{Name: block.Labels[0], DeclRange: block.DefRange}
	if a, ok := content.Attributes["value"]; ok {
		o.Expr = a.Expr
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, decodeLiteral(a, &o.Description)...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, decodeLiteral(a, &o.Sensitive)...)
	}
	if o.Expr == nil {
		return nil, diags
	}
	return o, diags
}

// ResourceBlock returns the block declaring addr's resource, or nil.
func (cfg *Config) ResourceBlock(addr Address) *ResourceBlock {
	for _, r := range cfg.Resources {
		if r.Type == addr.Type && r.Name == addr.Name {
			return r
		}
	}
	return nil
}

func sortedAttrNames(attrs hcl.Attributes) []string {
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := attrs[names[i]].Range, attrs[names[j]].Range
		if ri.Filename != rj.Filename {
			return ri.Filename < rj.Filename
		}
		return ri.Start.Byte < rj.Start.Byte
	})
	return names
}

// FilesOrNil returns the parsed files, or nil for a configuration that
// failed to load, so diagnostics can always be printed.
func (cfg *Config) FilesOrNil() map[string]*hcl.File {
	if cfg == nil {
		return nil
	}
	return cfg.Files
}
