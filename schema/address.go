package schema

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Key identifies one instance of a resource block expanded with count or
// for_each. The zero Key is the single instance of a plain block.
type Key struct {
	// Str is the for_each key when IsStr; otherwise Int is the count index.
	Str   string
	Int   int
	IsStr bool
	IsSet bool
}

// IntKey is the key of instance i of a block with count.
func IntKey(i int) Key { return Key{Int: i, IsSet: true} }

// StrKey is the key of a for_each instance.
func StrKey(s string) Key { return Key{Str: s, IsStr: true, IsSet: true} }

// String renders the key as it appears in an address: [0] or ["a"].
func (k Key) String() string {
	switch {
	case !k.IsSet:
		return ""
	case k.IsStr:
		return "[" + strconv.Quote(k.Str) + "]"
	default:
		return "[" + strconv.Itoa(k.Int) + "]"
	}
}

// Address names one resource instance: `volume.default`,
// `volume.caches["node"]`, `volume.scratch[0]`.
type Address struct {
	Type string
	Name string
	Key  Key
}

// String renders the address in HCL reference syntax.
func (a Address) String() string {
	return a.Type + "." + a.Name + a.Key.String()
}

// Block is the address of the resource block an instance comes from.
func (a Address) Block() Address { return Address{Type: a.Type, Name: a.Name} }

// Less orders addresses for stable output: by type, name, then key.
func (a Address) Less(b Address) bool {
	if a.Type != b.Type {
		return a.Type < b.Type
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	if a.Key.IsStr != b.Key.IsStr {
		return !a.Key.IsStr
	}
	if a.Key.IsStr {
		return a.Key.Str < b.Key.Str
	}
	return a.Key.Int < b.Key.Int
}

// Matches reports whether a target written by the operator (with or without
// an instance key) selects this address.
func (a Address) Matches(target Address) bool {
	if a.Type != target.Type || a.Name != target.Name {
		return false
	}
	return !target.Key.IsSet || a.Key == target.Key
}

// ParseAddress parses `type.name`, `type.name[0]` or `type.name["key"]`, as
// written on the command line (-target, -replace) or kept in ownership marks.
func ParseAddress(s string) (Address, error) {
	trav, diags := hclsyntax.ParseTraversalAbs([]byte(s), "", hcl.InitialPos)
	if diags.HasErrors() {
		return Address{}, fmt.Errorf("%q is not a resource address like volume.default or volume.caches[\"key\"]", s)
	}
	return AddressFromTraversal(trav, s)
}

// AddressFromTraversal reads an address from a parsed traversal.
func AddressFromTraversal(trav hcl.Traversal, src string) (Address, error) {
	bad := func() (Address, error) {
		return Address{}, fmt.Errorf("%q is not a resource address like volume.default or volume.caches[\"key\"]", src)
	}
	if len(trav) < 2 || len(trav) > 3 {
		return bad()
	}
	root, ok := trav[0].(hcl.TraverseRoot)
	if !ok {
		return bad()
	}
	attr, ok := trav[1].(hcl.TraverseAttr)
	if !ok {
		return bad()
	}
	addr := Address{Type: root.Name, Name: attr.Name}
	if len(trav) == 3 {
		idx, ok := trav[2].(hcl.TraverseIndex)
		if !ok || idx.Key.IsNull() || !idx.Key.IsKnown() {
			return bad()
		}
		switch ty := idx.Key.Type(); {
		case ty.FriendlyName() == "string":
			addr.Key = StrKey(idx.Key.AsString())
		case ty.FriendlyName() == "number":
			bf := idx.Key.AsBigFloat()
			i, acc := bf.Int64()
			if acc != 0 || i < 0 {
				return bad()
			}
			addr.Key = IntKey(int(i))
		default:
			return bad()
		}
	}
	if strings.TrimSpace(addr.Type) == "" || addr.Name == "" {
		return bad()
	}
	return addr, nil
}
