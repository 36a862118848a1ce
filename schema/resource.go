package schema

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// Resource declares one resource type as a provider implements it: the
// attributes and nested blocks its HCL block accepts, and what rigplan must
// know to plan it safely.
type Resource struct {
	// Type is the block type in HCL, e.g. "thin_pool". Types are global:
	// two providers never declare the same one.
	Type string
	// Provider names the provider that implements the type.
	Provider    string
	Description string
	Attributes  []*Attribute
	Blocks      []*Block
	// HoldsData marks types whose deletion or replacement loses data; the
	// planner refuses such changes unless the operator allows data loss.
	HoldsData bool
	// Validate checks rules that span attributes, on a decoded config whose
	// values may still be unknown. It must not touch the host.
	Validate func(config cty.Value) []*Problem
}

// Attribute declares one attribute of a resource or nested block.
type Attribute struct {
	Name        string
	Type        cty.Type
	Description string
	// Required attributes must be set in the config.
	Required bool
	// Computed attributes are set by the provider. A computed attribute that
	// is not also Optional cannot be written in the config.
	Computed bool
	// Optional attributes may be set; Default is used when they are not.
	Optional bool
	Default  cty.Value
	// ForceNew attributes cannot change in place: a change replaces the
	// object.
	ForceNew bool
	// Sensitive values are never printed.
	Sensitive  bool
	Validators []Validator
}

// Nesting says how many of a nested block may appear.
type Nesting int

const (
	// NestingSingle is at most one block, decoded as an object (null when
	// absent).
	NestingSingle Nesting = iota
	// NestingList is zero or more blocks in order, decoded as a list.
	NestingList
	// NestingMap is zero or more blocks with one label each, decoded as a
	// map keyed by the label.
	NestingMap
)

// Block declares a nested block such as `retention { ... }`.
type Block struct {
	Name        string
	Nesting     Nesting
	Description string
	// LabelName documents the label of a NestingMap block.
	LabelName  string
	Attributes []*Attribute
	Blocks     []*Block
	MinItems   int
	MaxItems   int
}

// Validator checks one known, non-null value of an attribute.
type Validator struct {
	// Description is a short phrase for docs, e.g. `a size such as "30G"`.
	Description string
	// Check returns an error that tells the operator what is wrong and what
	// to write instead.
	Check func(cty.Value) error
}

// StringValidator checks a string attribute with check.
func StringValidator(desc string, check func(string) error) Validator {
	return Validator{Description: desc, Check: func(v cty.Value) error { return check(v.AsString()) }}
}

// OneOf accepts exactly one of values.
func OneOf(values ...string) Validator {
	list := strings.Join(values, ", ")
	return StringValidator("one of "+list, func(s string) error {
		if slices.Contains(values, s) {
			return nil
		}
		return fmt.Errorf("%q is not one of %s", s, list)
	})
}

// Problem is a validation failure at a path inside a resource's value. The
// loader turns it into a diagnostic pointing at the attribute's source.
type Problem struct {
	Path    cty.Path
	Summary string
	Detail  string
	Warning bool
}

// Attribute returns the named top-level attribute, or nil.
func (r *Resource) Attribute(name string) *Attribute {
	for _, a := range r.Attributes {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Block returns the named top-level nested block, or nil.
func (r *Resource) Block(name string) *Block {
	for _, b := range r.Blocks {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// ImpliedType is the object type of a resource's value (config, planned or
// actual state).
func (r *Resource) ImpliedType() cty.Type {
	return objectType(r.Attributes, r.Blocks)
}

// Spec is the hcldec spec that decodes a resource block's body. Computed-only
// attributes are not part of it: config cannot set them.
func (r *Resource) Spec() hcldec.Spec {
	return objectSpec(r.Attributes, r.Blocks)
}

// ForceNewPaths lists the paths of attributes whose change forces
// replacement, nested blocks included.
func (r *Resource) ForceNewPaths() []cty.Path {
	var out []cty.Path
	collectForceNew(nil, r.Attributes, r.Blocks, &out)
	return out
}

func collectForceNew(prefix cty.Path, attrs []*Attribute, blocks []*Block, out *[]cty.Path) {
	for _, a := range attrs {
		if a.ForceNew {
			*out = append(*out, prefix.Copy().GetAttr(a.Name))
		}
	}
	for _, b := range blocks {
		// A change anywhere inside a block counts as a change of the
		// attribute in it, so the block's path is enough as a prefix.
		collectForceNew(prefix.Copy().GetAttr(b.Name), b.Attributes, b.Blocks, out)
	}
}

func objectType(attrs []*Attribute, blocks []*Block) cty.Type {
	fields := make(map[string]cty.Type, len(attrs)+len(blocks))
	for _, a := range attrs {
		fields[a.Name] = a.Type
	}
	for _, b := range blocks {
		fields[b.Name] = b.impliedType()
	}
	return cty.Object(fields)
}

func (b *Block) impliedType() cty.Type {
	obj := objectType(b.Attributes, b.Blocks)
	switch b.Nesting {
	case NestingList:
		return cty.List(obj)
	case NestingMap:
		return cty.Map(obj)
	default:
		return obj
	}
}

func objectSpec(attrs []*Attribute, blocks []*Block) hcldec.ObjectSpec {
	spec := hcldec.ObjectSpec{}
	for _, a := range attrs {
		if a.Computed && !a.Optional && !a.Required {
			continue
		}
		var s hcldec.Spec = &hcldec.AttrSpec{Name: a.Name, Type: a.Type, Required: a.Required}
		if a.Default != cty.NilVal && !a.Default.IsNull() {
			s = &hcldec.DefaultSpec{Primary: s, Default: &hcldec.LiteralSpec{Value: a.Default}}
		}
		spec[a.Name] = s
	}
	for _, b := range blocks {
		spec[b.Name] = b.spec()
	}
	return spec
}

func (b *Block) spec() hcldec.Spec {
	nested := objectSpec(b.Attributes, b.Blocks)
	switch b.Nesting {
	case NestingList:
		return &hcldec.BlockListSpec{TypeName: b.Name, Nested: nested, MinItems: b.MinItems, MaxItems: b.MaxItems}
	case NestingMap:
		label := b.LabelName
		if label == "" {
			label = "name"
		}
		return &hcldec.BlockMapSpec{TypeName: b.Name, LabelNames: []string{label}, Nested: nested}
	case NestingSingle:
		return &hcldec.BlockSpec{TypeName: b.Name, Nested: nested, Required: b.MinItems > 0}
	default:
		panic(fmt.Sprintf("schema: block %q has unknown nesting %d", b.Name, b.Nesting))
	}
}
