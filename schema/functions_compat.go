package schema

import (
	"errors"
	"regexp"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// This file holds the functions whose go-cty stdlib namesake behaves
// differently from Terraform's, or that go-cty lacks. Configurations are
// written by people who know Terraform, so where the two disagree Terraform
// wins: `length("abc")` is 3, not a type error; `index(list, value)` finds
// a value rather than indexing; `replace` takes `/regex/`.

// lengthFunc counts the elements of a collection or structural value, or
// the characters (grapheme clusters) of a string.
func lengthFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Returns the number of elements of a collection, or of characters of a string.",
		Params: []function.Parameter{{
			Name:             "value",
			Type:             cty.DynamicPseudoType,
			AllowDynamicType: true,
			AllowUnknown:     true,
		}},
		Type: func(args []cty.Value) (cty.Type, error) {
			ty := args[0].Type()
			switch {
			case ty == cty.String, ty == cty.DynamicPseudoType,
				ty.IsCollectionType(), ty.IsTupleType(), ty.IsObjectType():
				return cty.Number, nil
			}
			return cty.NilType, function.NewArgErrorf(0, "argument must be a string, a collection or a structural type, not %s", ty.FriendlyName())
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v := args[0]
			switch ty := v.Type(); {
			case ty == cty.DynamicPseudoType:
				return cty.UnknownVal(cty.Number), nil
			case ty == cty.String:
				return stdlib.Strlen(v)
			case ty.IsObjectType():
				return cty.NumberIntVal(int64(len(ty.AttributeTypes()))), nil
			case ty.IsTupleType():
				return cty.NumberIntVal(int64(len(ty.TupleElementTypes()))), nil
			}
			return v.Length(), nil
		},
	})
}

// indexFunc finds the position of a value in a list, as Terraform's index
// does (go-cty's stdlib IndexFunc is the `[]` operator instead).
func indexFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Returns the index of the first element of the list that equals the value.",
		Params: []function.Parameter{
			{Name: "list", Type: cty.DynamicPseudoType},
			{Name: "value", Type: cty.DynamicPseudoType},
		},
		Type: function.StaticReturnType(cty.Number),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			list, value := args[0], args[1]
			if ty := list.Type(); !ty.IsListType() && !ty.IsTupleType() {
				return cty.NilVal, function.NewArgErrorf(0, "argument must be a list or tuple, not %s", ty.FriendlyName())
			}
			if !list.IsKnown() {
				return cty.UnknownVal(cty.Number), nil
			}
			for it := list.ElementIterator(); it.Next(); {
				i, elem := it.Element()
				eq := elem.Equals(value)
				if !eq.IsKnown() {
					return cty.UnknownVal(cty.Number), nil
				}
				if eq.True() {
					return i, nil
				}
			}
			return cty.NilVal, function.NewArgErrorf(1, "item %s not found in the list", value.GoString())
		},
	})
}

// allTrueFunc is true when every element is true; an empty list is true.
func allTrueFunc() function.Function {
	return boolReduceFunc("Returns true if every element of the list is true (or the list is empty).", true)
}

// anyTrueFunc is true when at least one element is true.
func anyTrueFunc() function.Function {
	return boolReduceFunc("Returns true if at least one element of the list is true.", false)
}

// boolReduceFunc builds alltrue (all=true) and anytrue (all=false). Like
// Terraform, a null element counts as false.
func boolReduceFunc(desc string, all bool) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params: []function.Parameter{{
			Name: "list", Type: cty.List(cty.Bool), AllowUnknown: true,
		}},
		Type: function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if !args[0].IsKnown() {
				return cty.UnknownVal(cty.Bool), nil
			}
			unknown := false
			for it := args[0].ElementIterator(); it.Next(); {
				_, v := it.Element()
				switch {
				case !v.IsKnown():
					unknown = true
				case v.IsNull() || v.False():
					if all {
						return cty.False, nil
					}
				default:
					if !all {
						return cty.True, nil
					}
				}
			}
			if unknown {
				return cty.UnknownVal(cty.Bool), nil
			}
			return cty.BoolVal(all), nil
		},
	})
}

// coalesceFunc returns its first argument that is neither null nor an
// empty string; go-cty's skips only nulls, and `coalesce(var.name, "x")`
// with name = "" is exactly where Terraform users rely on the difference.
func coalesceFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Returns the first argument that is neither null nor an empty string.",
		VarParam: &function.Parameter{
			Name:             "vals",
			Type:             cty.DynamicPseudoType,
			AllowUnknown:     true,
			AllowDynamicType: true,
			AllowNull:        true,
		},
		Type: func(args []cty.Value) (cty.Type, error) {
			types := make([]cty.Type, len(args))
			for i, v := range args {
				types[i] = v.Type()
			}
			ty, _ := convert.UnifyUnsafe(types)
			if ty == cty.NilType {
				return cty.NilType, errors.New("all arguments must have the same type, or be convertible to one")
			}
			return ty, nil
		},
		Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
			for _, v := range args {
				v, err := convert.Convert(v, retType)
				if err != nil {
					return cty.NilVal, err
				}
				if !v.IsKnown() {
					return cty.UnknownVal(retType), nil
				}
				if v.IsNull() || (retType == cty.String && v.AsString() == "") {
					continue
				}
				return v, nil
			}
			return cty.NilVal, errors.New("no non-null, non-empty argument; give a default as the last argument")
		},
	})
}

// sumFunc adds up a list, set or tuple of numbers.
func sumFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Returns the total of a list, set or tuple of numbers.",
		Params:      []function.Parameter{{Name: "list", Type: cty.DynamicPseudoType}},
		Type: func(args []cty.Value) (cty.Type, error) {
			ty := args[0].Type()
			if !ty.IsListType() && !ty.IsSetType() && !ty.IsTupleType() {
				return cty.NilType, function.NewArgErrorf(0, "argument must be a list, set or tuple of numbers, not %s", ty.FriendlyName())
			}
			return cty.Number, nil
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if !args[0].IsWhollyKnown() {
				return cty.UnknownVal(cty.Number), nil
			}
			if args[0].LengthInt() == 0 {
				return cty.NilVal, function.NewArgErrorf(0, "cannot sum an empty list")
			}
			total := cty.Zero
			for it := args[0].ElementIterator(); it.Next(); {
				_, v := it.Element()
				n, err := convert.Convert(v, cty.Number)
				if err != nil || n.IsNull() {
					return cty.NilVal, function.NewArgErrorf(0, "every element must be a number, and %s is not", v.GoString())
				}
				total = total.Add(n)
			}
			return total, nil
		},
	})
}

// transposeFunc swaps the keys and values of a map of lists of strings:
// {a = ["x", "y"], b = ["x"]} becomes {x = ["a", "b"], y = ["a"]}.
func transposeFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Swaps the keys and values of a map of lists of strings.",
		Params:      []function.Parameter{{Name: "values", Type: cty.Map(cty.List(cty.String))}},
		Type:        function.StaticReturnType(cty.Map(cty.List(cty.String))),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if !args[0].IsWhollyKnown() {
				return cty.UnknownVal(cty.Map(cty.List(cty.String))), nil
			}
			out := map[string][]cty.Value{}
			// cty iterates maps in key order, so each output list is sorted.
			for it := args[0].ElementIterator(); it.Next(); {
				k, list := it.Element()
				if list.IsNull() {
					return cty.NilVal, function.NewArgErrorf(0, "the list for key %q is null", k.AsString())
				}
				for lit := list.ElementIterator(); lit.Next(); {
					_, v := lit.Element()
					if v.IsNull() {
						return cty.NilVal, function.NewArgErrorf(0, "the list for key %q has a null element", k.AsString())
					}
					out[v.AsString()] = append(out[v.AsString()], k)
				}
			}
			if len(out) == 0 {
				return cty.MapValEmpty(cty.List(cty.String)), nil
			}
			m := make(map[string]cty.Value, len(out))
			for k, keys := range out {
				m[k] = cty.ListVal(keys)
			}
			return cty.MapVal(m), nil
		},
	})
}

// replaceFunc is Terraform's replace: a substring wrapped in slashes is a
// regular expression (with $1 references in the replacement), otherwise it
// is replaced literally.
func replaceFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Replaces every occurrence of substr (or of the regular expression /substr/) in str.",
		Params: []function.Parameter{
			{Name: "str", Type: cty.String},
			{Name: "substr", Type: cty.String},
			{Name: "replace", Type: cty.String},
		},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			substr := args[1].AsString()
			if len(substr) > 1 && strings.HasPrefix(substr, "/") && strings.HasSuffix(substr, "/") {
				re, err := regexp.Compile(substr[1 : len(substr)-1])
				if err != nil {
					return cty.NilVal, function.NewArgErrorf(1, "invalid regular expression %s: %w", substr, err)
				}
				return cty.StringVal(re.ReplaceAllString(args[0].AsString(), args[2].AsString())), nil
			}
			return stdlib.Replace(args[0], args[1], args[2])
		},
	})
}
