package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// The file functions read paths relative to the configuration directory
// (absolute paths are taken as they are), never to the working directory:
// `rigplan validate configs/` and `cd configs && rigplan validate` must
// read the same files, or a plan depends on where it was run.

// fileFunc reads a UTF-8 text file, as Terraform's file does.
func fileFunc(baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Reads the UTF-8 text file at path, relative to the configuration directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			path := args[0].AsString()
			src, err := readConfigFile(baseDir, path)
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			if !utf8.Valid(src) {
				return cty.NilVal, function.NewArgErrorf(0,
					"the file %s is not valid UTF-8 text; file() reads text only, so refer to a binary file with filesha256() or hashfiles() instead",
					path)
			}
			return cty.StringVal(string(src)), nil
		},
	})
}

// fileSHA256Func hashes a file's bytes, for changes that must follow a file
// (a Containerfile, a unit template) without putting its text in the plan.
func fileSHA256Func(baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the hex SHA-256 of the bytes of the file at path, relative to the configuration directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			src, err := readConfigFile(baseDir, args[0].AsString())
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			sum := sha256.Sum256(src)
			return cty.StringVal(hex.EncodeToString(sum[:])), nil
		},
	})
}

// configPath resolves a path written in the configuration.
func configPath(baseDir, path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(baseDir, path)
}

// readConfigFile reads a file named in the configuration, with an error
// that says where rigplan looked, since a relative path that resolves
// somewhere unexpected is the usual cause.
func readConfigFile(baseDir, path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("the path is empty; give a file path relative to the configuration directory")
	}
	full := configPath(baseDir, path)
	src, err := os.ReadFile(full)
	switch {
	case err == nil:
		return src, nil
	case errors.Is(err, fs.ErrNotExist):
		if filepath.IsAbs(path) {
			return nil, fmt.Errorf("no file exists at %s; check the path", path)
		}
		return nil, fmt.Errorf("no file exists at %s (looked for %s, since paths are relative to the configuration directory); check the path", path, full)
	default:
		if fi, statErr := os.Stat(full); statErr == nil && fi.IsDir() {
			return nil, fmt.Errorf("%s is a directory, not a file; name a file, or use hashfiles() to hash a directory's contents", path)
		}
		return nil, fmt.Errorf("read %s: %w", full, err)
	}
}
