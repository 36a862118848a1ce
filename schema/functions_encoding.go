package schema

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// base64EncodeFunc encodes a string's UTF-8 bytes with the standard
// alphabet and padding, as Terraform's base64encode does.
func base64EncodeFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Encodes the UTF-8 bytes of a string as standard, padded base64.",
		Params:      []function.Parameter{{Name: "str", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(args[0].AsString()))), nil
		},
	})
}

// base64DecodeFunc decodes standard base64. The result must be UTF-8
// because cty strings are text; binary data has no place in a plan.
func base64DecodeFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Decodes standard, padded base64 into a UTF-8 string.",
		Params:      []function.Parameter{{Name: "str", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			b, err := base64.StdEncoding.DecodeString(args[0].AsString())
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "the string is not valid base64: %w", err)
			}
			if !utf8.Valid(b) {
				return cty.NilVal, function.NewArgErrorf(0, "the decoded bytes are not valid UTF-8 text")
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

// md5Func is for matching checksums published elsewhere, not for security.
func md5Func() function.Function {
	return stringHashFunc("MD5", md5.New)
}

// sha1Func is for matching checksums published elsewhere, not for security.
func sha1Func() function.Function {
	return stringHashFunc("SHA-1", sha1.New)
}

// sha256Func hashes a string, e.g. to derive a stable name from a value.
func sha256Func() function.Function {
	return stringHashFunc("SHA-256", sha256.New)
}

// stringHashFunc returns a function giving the lowercase hex digest of a
// string's UTF-8 bytes, which is what Terraform's md5/sha1/sha256 return.
func stringHashFunc(name string, newHash func() hash.Hash) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the lowercase hex " + name + " of the UTF-8 bytes of a string.",
		Params:      []function.Parameter{{Name: "str", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			h := newHash()
			h.Write([]byte(args[0].AsString()))
			return cty.StringVal(hex.EncodeToString(h.Sum(nil))), nil
		},
	})
}
