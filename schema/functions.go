package schema

import (
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Functions returns the functions available in rigplan expressions.
//
// The set is what a Terraform user reaches for without thinking: the go-cty
// standard library under Terraform's names, Terraform's own variants where
// its behaviour differs from go-cty's (length of a string, index of a value,
// regex-aware replace, coalesce skipping "", sum, transpose,
// alltrue/anytrue), the hashing and
// base64 helpers, try/can, and three file functions (file, filesha256,
// hashfiles) that read paths relative to baseDir, the configuration
// directory, so that a configuration means the same thing whichever
// directory rigplan is run from.
//
// A new map is built on every call: callers may add or remove entries
// without affecting anyone else.
func Functions(baseDir string) map[string]function.Function {
	return map[string]function.Function{
		// Numeric.
		"abs":      stdlib.AbsoluteFunc,
		"ceil":     stdlib.CeilFunc,
		"floor":    stdlib.FloorFunc,
		"log":      stdlib.LogFunc,
		"max":      stdlib.MaxFunc,
		"min":      stdlib.MinFunc,
		"parseint": stdlib.ParseIntFunc,
		"pow":      stdlib.PowFunc,
		"signum":   stdlib.SignumFunc,

		// Strings.
		"chomp":      stdlib.ChompFunc,
		"format":     stdlib.FormatFunc,
		"formatlist": stdlib.FormatListFunc,
		"indent":     stdlib.IndentFunc,
		"join":       stdlib.JoinFunc,
		"lower":      stdlib.LowerFunc,
		"regex":      stdlib.RegexFunc,
		"regexall":   stdlib.RegexAllFunc,
		"replace":    replaceFunc(),
		"split":      stdlib.SplitFunc,
		"strrev":     stdlib.ReverseFunc,
		"substr":     stdlib.SubstrFunc,
		"title":      stdlib.TitleFunc,
		"trim":       stdlib.TrimFunc,
		"trimprefix": stdlib.TrimPrefixFunc,
		"trimspace":  stdlib.TrimSpaceFunc,
		"trimsuffix": stdlib.TrimSuffixFunc,
		"upper":      stdlib.UpperFunc,

		// Collections.
		"alltrue":         allTrueFunc(),
		"anytrue":         anyTrueFunc(),
		"chunklist":       stdlib.ChunklistFunc,
		"coalesce":        coalesceFunc(),
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"index":           indexFunc(),
		"keys":            stdlib.KeysFunc,
		"length":          lengthFunc(),
		"lookup":          stdlib.LookupFunc,
		"merge":           stdlib.MergeFunc,
		"range":           stdlib.RangeFunc,
		"reverse":         stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"setsubtract":     stdlib.SetSubtractFunc,
		"setunion":        stdlib.SetUnionFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"sum":             sumFunc(),
		"transpose":       transposeFunc(),
		"values":          stdlib.ValuesFunc,
		"zipmap":          stdlib.ZipmapFunc,

		// Encoding and hashing.
		"base64decode": base64DecodeFunc(),
		"base64encode": base64EncodeFunc(),
		"csvdecode":    stdlib.CSVDecodeFunc,
		"jsondecode":   stdlib.JSONDecodeFunc,
		"jsonencode":   stdlib.JSONEncodeFunc,
		"md5":          md5Func(),
		"sha1":         sha1Func(),
		"sha256":       sha256Func(),

		// Type conversion.
		"tobool":   stdlib.MakeToFunc(cty.Bool),
		"tolist":   stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":    stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber": stdlib.MakeToFunc(cty.Number),
		"toset":    stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring": stdlib.MakeToFunc(cty.String),

		// Time.
		"formatdate": stdlib.FormatDateFunc,
		"timeadd":    stdlib.TimeAddFunc,

		// Error handling.
		"can": tryfunc.CanFunc,
		"try": tryfunc.TryFunc,

		// Files, relative to the configuration directory.
		"file":       fileFunc(baseDir),
		"filesha256": fileSHA256Func(baseDir),
		"hashfiles":  hashFilesFunc(baseDir),
	}
}
