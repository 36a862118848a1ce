package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// hashfiles gives a cache or image the same key that a workflow computes
// with GitHub's `hashFiles()`, so it follows GitHub's algorithm, as
// implemented by actions/runner (src/Misc/expressionFunc/hashFiles) on top
// of @actions/glob (packages/glob/src/internal-globber.ts,
// internal-pattern.ts, internal-hash-files.ts):
//
//   - every argument may hold several patterns, one a line; lines are
//     trimmed, and empty lines and lines starting with # are skipped;
//   - a leading ! negates a pattern; patterns apply in order, so a later
//     pattern overrides an earlier one for the files it matches;
//   - * and ? match within one path segment, ** matches any number of
//     segments, [...] is a character class; * matches dotfiles; braces
//     {a,b} are literal characters (minimatch's nobrace);
//   - a pattern that names a directory takes in everything below it, and a
//     trailing / makes a pattern match directories only (so only their
//     contents count);
//   - the tree is walked depth-first from the literal prefix of each
//     pattern, in pattern order, directory entries in byte order (Node's
//     readdir sorts them like Go's os.ReadDir), so "a/b" comes before
//     "a.txt";
//   - symbolic links are not followed into directories; a link to a file
//     is hashed as the file it points to;
//   - each matched file's SHA-256 digest (32 raw bytes) is fed, in walk
//     order, into one outer SHA-256, returned as lowercase hex; the result
//     is "" when nothing matched.
//
// Where rigplan differs, on purpose:
//
//   - patterns are relative to the configuration directory, not
//     GITHUB_WORKSPACE, and absolute patterns are allowed: GitHub ignores
//     every file outside the workspace, rigplan hashes what is named;
//   - ".." may appear before the first wildcard (resolved against the
//     configuration directory), where GitHub refuses it everywhere; "~" is
//     not expanded;
//   - --follow-symbolic-links is refused rather than supported;
//   - FIFOs, sockets and devices are skipped, where GitHub would try to
//     read them; a broken symbolic link is an error in both.

// hashFilesFunc is the HCL function; see the comment above.
func hashFilesFunc(baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the SHA-256 of the files matching the glob patterns, computed like GitHub's hashFiles(), or \"\" when nothing matches.",
		VarParam:    &function.Parameter{Name: "patterns", Type: cty.String},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) == 0 {
				return cty.NilVal, errors.New(`hashfiles needs at least one glob pattern, e.g. hashfiles("**/package-lock.json")`)
			}
			patterns := make([]string, len(args))
			for i, a := range args {
				patterns[i] = a.AsString()
			}
			sum, err := hashFiles(baseDir, patterns)
			if err != nil {
				var pe *patternError
				if errors.As(err, &pe) {
					return cty.NilVal, function.NewArgError(pe.arg, err)
				}
				return cty.NilVal, err
			}
			return cty.StringVal(sum), nil
		},
	})
}

// hashFiles computes GitHub's hashFiles() result over the files matched by
// args (each holding one or more newline-separated patterns).
func hashFiles(baseDir string, args []string) (string, error) {
	files, err := matchFiles(baseDir, args)
	if err != nil || len(files) == 0 {
		return "", err
	}
	outer := sha256.New()
	for _, f := range files {
		sum, err := hashFile(f)
		if err != nil {
			return "", err
		}
		outer.Write(sum)
	}
	return hex.EncodeToString(outer.Sum(nil)), nil
}

// hashFile returns the raw SHA-256 digest of one file's contents.
func hashFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hashfiles: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("hashfiles: read %s: %w", path, err)
	}
	return h.Sum(nil), nil
}

// matchFiles lists the files that hashFiles hashes, in hashing order.
func matchFiles(baseDir string, args []string) ([]string, error) {
	if len(args) > 0 && strings.HasPrefix(strings.TrimSpace(args[0]), "--") {
		return nil, &patternError{arg: 0, msg: fmt.Sprintf("%q: rigplan's hashfiles takes no options; it never follows symbolic links into directories", strings.TrimSpace(args[0]))}
	}
	base, err := filepath.Abs(baseDir)
	if err != nil {
		return nil, fmt.Errorf("hashfiles: resolve the configuration directory %s: %w", baseDir, err)
	}
	// Like GitHub, which runs in the resolved working directory, resolve
	// links in the base so that a symlinked config dir is still walked.
	if real, err := filepath.EvalSymlinks(base); err == nil {
		base = real
	}
	patterns, err := parsePatterns(base, args)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, root := range searchPaths(patterns) {
		found, err := walkMatches(root, patterns)
		if err != nil {
			return nil, err
		}
		files = append(files, found...)
	}
	return files, nil
}

// walkMatches walks one search path depth-first in byte order, returning
// the files whose final match state, after every pattern, is "included".
func walkMatches(root string, patterns []*globPattern) ([]string, error) {
	if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walking
			}
			return fmt.Errorf("hashfiles: %w", err)
		}
		slashPath := filepath.ToSlash(path)
		if d.IsDir() {
			if path != root && !anyMayContain(patterns, slashPath) {
				return filepath.SkipDir
			}
			return nil
		}
		if !included(patterns, slashPath) {
			return nil
		}
		ok, err := hashable(path, d)
		if ok {
			files = append(files, path)
		}
		return err
	})
	return files, err
}

// hashable reports whether a matched non-directory entry is hashed: regular
// files, and links to regular files. A broken link is an error, as it is
// for GitHub, because silently hashing less would give a stale cache key.
func hashable(path string, d fs.DirEntry) (bool, error) {
	switch {
	case d.Type().IsRegular():
		return true, nil
	case d.Type()&fs.ModeSymlink == 0:
		return false, nil // FIFO, socket, device
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("hashfiles: %s is a broken symbolic link; fix or remove it, or exclude it with a ! pattern", path)
	}
	if err != nil {
		return false, fmt.Errorf("hashfiles: %w", err)
	}
	return fi.Mode().IsRegular(), nil
}

// included applies every pattern in order: a match sets the file's state,
// a negated match clears it.
func included(patterns []*globPattern, path string) bool {
	in := false
	for _, p := range patterns {
		if p.negate {
			in = in && !p.matchFile(path)
		} else {
			in = in || p.matchFile(path)
		}
	}
	return in
}

// anyMayContain reports whether a directory may hold a match, so that the
// walk skips subtrees no pattern can reach (GitHub's partialMatch).
func anyMayContain(patterns []*globPattern, dir string) bool {
	for _, p := range patterns {
		if !p.negate && p.mayContain(dir) {
			return true
		}
	}
	return false
}
