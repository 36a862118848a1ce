package schema

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// globPattern is one hashfiles pattern, made absolute against the
// configuration directory and translated into doublestar syntax, which
// matches minimatch's for everything GitHub enables.
type globPattern struct {
	negate bool
	// glob is the absolute pattern; implicit is glob+"/**", which takes in
	// everything below a matched directory (@actions/glob's
	// implicitDescendants), or "" when glob already ends in **.
	glob, implicit string
	// dirOnly marks a pattern written with a trailing slash: it matches
	// directories, so files count only through implicit.
	dirOnly bool
	// segments is glob split on "/" (segments[0] is the empty root).
	segments []string
	// search is the literal directory (or file) before the first wildcard:
	// where the walk starts.
	search string
}

// patternError is a pattern the user must fix; arg says which argument.
type patternError struct {
	arg int
	msg string
}

func (e *patternError) Error() string { return "invalid hashfiles pattern " + e.msg }

// parsePatterns splits every argument into lines and parses each pattern.
func parsePatterns(base string, args []string) ([]*globPattern, error) {
	var out []*globPattern
	for i, arg := range args {
		for _, line := range strings.Split(arg, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			p, err := parsePattern(base, line)
			if err != nil {
				return nil, &patternError{arg: i, msg: fmt.Sprintf("%q: %s", line, err)}
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// parsePattern parses one non-empty, non-comment line.
func parsePattern(base, line string) (*globPattern, error) {
	p := &globPattern{}
	for strings.HasPrefix(line, "!") {
		p.negate = !p.negate
		line = strings.TrimSpace(line[1:])
	}
	if line == "" {
		return nil, errors.New(`a "!" must be followed by a pattern`)
	}
	p.dirOnly = len(line) > 1 && strings.HasSuffix(line, "/")
	line = escapeBraces(line)
	if !strings.HasPrefix(line, "/") {
		line = escapeGlob(filepath.ToSlash(base)) + "/" + line
	}

	// Resolve "." and ".." in the literal prefix; refuse them after a
	// wildcard, where they could never match a walked path.
	segs := []string{""}
	firstWild := 0 // index in segs of the first wildcard segment
	for _, s := range strings.Split(line, "/") {
		wild := firstWild > 0
		switch {
		case s == "" || (s == "." && !wild):
			continue
		case s == ".." && !wild:
			if len(segs) > 1 {
				segs = segs[:len(segs)-1]
			}
			continue
		case s == "." || s == "..":
			return nil, fmt.Errorf(`"." and ".." may appear only before the first wildcard`)
		case !wild && hasWildcard(s):
			firstWild = len(segs)
		}
		segs = append(segs, s)
	}
	literal := segs[1:]
	if firstWild > 0 {
		literal = segs[1:firstWild]
	}
	for _, s := range literal {
		p.search += "/" + unescapeGlob(s)
	}
	if p.search == "" {
		p.search = "/"
	}
	p.segments = segs
	p.glob = "/" + strings.Join(segs[1:], "/")
	if !doublestar.ValidatePattern(p.glob) {
		return nil, fmt.Errorf("it is not a valid glob; check its [ ] character classes")
	}
	if segs[len(segs)-1] != "**" {
		p.implicit = path.Join(p.glob, "**")
	}
	return p, nil
}

// matchFile reports whether the pattern matches a file (or anything that
// is not a directory) at the absolute slash path name.
func (p *globPattern) matchFile(name string) bool {
	if !p.dirOnly {
		if ok, _ := doublestar.Match(p.glob, name); ok {
			return true
		}
	}
	if p.implicit != "" {
		ok, _ := doublestar.Match(p.implicit, name)
		return ok
	}
	return false
}

// mayContain reports whether something below the directory dir could
// match: every segment of dir before the pattern's first ** (counting the
// implicit trailing one) must match the pattern's segment at that depth.
func (p *globPattern) mayContain(dir string) bool {
	dirSegs := strings.Split(strings.TrimSuffix(dir, "/"), "/")
	for i := 1; i < len(dirSegs); i++ {
		if i >= len(p.segments) {
			return true // below a whole-pattern match: implicit descendants
		}
		if p.segments[i] == "**" {
			return true
		}
		if ok, _ := doublestar.Match(p.segments[i], dirSegs[i]); !ok {
			return false
		}
	}
	return true
}

// searchPaths returns where to walk: the search path of every positive
// pattern, in pattern order, without duplicates or paths below another
// (@actions/glob's getSearchPaths).
func searchPaths(patterns []*globPattern) []string {
	all := map[string]bool{}
	for _, p := range patterns {
		if !p.negate {
			all[p.search] = true
		}
	}
	var out []string
	done := map[string]bool{}
	for _, p := range patterns {
		if p.negate || done[p.search] || hasAncestor(all, p.search) {
			continue
		}
		done[p.search] = true
		out = append(out, filepath.FromSlash(p.search))
	}
	return out
}

// hasAncestor reports whether a proper ancestor of dir is in set.
func hasAncestor(set map[string]bool, dir string) bool {
	for d := path.Dir(dir); ; d = path.Dir(d) {
		if set[d] && d != dir {
			return true
		}
		if d == "/" || d == "." {
			return false
		}
	}
}

// hasWildcard reports whether a segment has an unescaped * ? or [.
func hasWildcard(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}

// escapeGlob makes a literal path safe to put in a pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]{}\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// escapeBraces turns { and } into literals: GitHub runs minimatch with
// nobrace, so `{a,b}` names a file called "{a,b}" there.
func escapeBraces(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			b.WriteByte(c)
			i++
			b.WriteByte(s[i])
		case c == '{' || c == '}':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeGlob turns a literal pattern segment back into a file name.
func unescapeGlob(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
