package podman

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// buildDigest is what a build is made from, as "sha256:HEX": the
// Containerfile, every file of the context that the ignore file does not
// exclude (path, type, permissions and content or link target), the build
// arguments and the target. The isolation mode and timeout are left out:
// they change how the image is built, not what it is. Plan compares it
// with the one recorded at the last build to decide whether to rebuild.
func buildDigest(b *buildConfig) (string, error) {
	st, err := os.Stat(b.Context)
	if err != nil {
		return "", fmt.Errorf("reading the build context: %w", err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("the build context %s is not a directory", b.Context)
	}
	h := sha256.New()
	fmt.Fprintf(h, "rigplan image build 1\n")
	cf, err := os.ReadFile(b.Containerfile)
	if err != nil {
		return "", fmt.Errorf("reading the Containerfile: %w", err)
	}
	fmt.Fprintf(h, "containerfile %d\n", len(cf))
	h.Write(cf)
	keys := make([]string, 0, len(b.Args))
	for k := range b.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "arg %q=%q\n", k, b.Args[k])
	}
	fmt.Fprintf(h, "target %q\n", b.Target)
	ign, err := readIgnore(b.Context)
	if err != nil {
		return "", err
	}
	if err := hashTree(h, b.Context, ign); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// hashTree feeds every entry of the context that is not ignored into h,
// in lexical order, without following symbolic links.
func hashTree(h hash.Hash, root string, ign *ignore) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading the build context: %w", err)
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if ign.excludes(rel) {
			if d.IsDir() && !ign.negations {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("reading the build context: %w", err)
		}
		mode := info.Mode()
		fmt.Fprintf(h, "%q %s %o", rel, mode.Type(), mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
		switch {
		case mode.IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return fmt.Errorf("reading the build context: %w", err)
			}
			sum := sha256.New()
			_, err = io.Copy(sum, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("reading %s: %w", p, err)
			}
			fmt.Fprintf(h, " %x", sum.Sum(nil))
		case mode&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, " -> %q", target)
		}
		h.Write([]byte{'\n'})
		return nil
	})
}

// ignore holds the patterns of a context's .containerignore (or
// .dockerignore), read the way podman and docker read them: one pattern a
// line, # comments, ! re-includes, the last matching pattern wins, and a
// pattern matching a directory matches everything below it.
type ignore struct {
	patterns []ignorePattern
	// negations is true when some pattern re-includes: excluded
	// directories must then still be walked.
	negations bool
}

type ignorePattern struct {
	glob   string
	negate bool
}

func readIgnore(context string) (*ignore, error) {
	ign := &ignore{}
	for _, name := range []string{".containerignore", ".dockerignore"} {
		f, err := os.Open(filepath.Join(context, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			p := ignorePattern{}
			if rest, ok := strings.CutPrefix(line, "!"); ok {
				p.negate, line = true, strings.TrimSpace(rest)
				ign.negations = true
			}
			p.glob = strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(line)), "/")
			if !doublestar.ValidatePattern(p.glob) {
				return nil, fmt.Errorf("%s: invalid pattern %q", filepath.Join(context, name), line)
			}
			ign.patterns = append(ign.patterns, p)
		}
		return ign, sc.Err()
	}
	return ign, nil
}

// excludes reports whether the context-relative path rel is ignored.
func (ign *ignore) excludes(rel string) bool {
	excluded := false
	for _, p := range ign.patterns {
		if p.matches(rel) {
			excluded = !p.negate
		}
	}
	return excluded
}

// matches reports whether the pattern matches rel or a directory above it.
func (p ignorePattern) matches(rel string) bool {
	for q := rel; q != "." && q != ""; q = path.Dir(q) {
		if ok, _ := doublestar.Match(p.glob, q); ok {
			return true
		}
		if q == path.Dir(q) {
			break
		}
	}
	return false
}
