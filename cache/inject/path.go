package inject

import (
	"fmt"
	"path"
	"strings"
)

// maxPath is PATH_MAX less the terminating NUL: a longer path could never
// be resolved anyway.
const maxPath = 4095

// CheckPath reports whether p is a mount path a machine with the given
// allowed prefixes may ask for: absolute, clean (path.Clean(p) == p), free
// of "." and ".." components, not "/", and equal to or below one of the
// prefixes on a path-component boundary (/home/x/cache2 is not under
// /home/x/cache). Prefixes that are not themselves absolute and clean never
// match. The error (wrapping ErrBadPath) says what is wrong, for the client.
//
// CheckPath looks at the string only. Mount additionally resolves the path
// inside the machine without following symlinks.
func CheckPath(p string, allowed []string) error {
	switch {
	case p == "":
		return badPath("mount path is empty: give an absolute path such as /home/runner/cache", nil)
	case strings.IndexByte(p, 0) >= 0:
		return badPath(fmt.Sprintf("mount path %q contains a NUL byte", p), nil)
	case len(p) > maxPath:
		return badPath(fmt.Sprintf("mount path is %d bytes long, over the limit of %d", len(p), maxPath), nil)
	case !strings.HasPrefix(p, "/"):
		return badPath(fmt.Sprintf("mount path %q is relative: give an absolute path", p), nil)
	}
	for _, c := range strings.Split(p, "/") {
		if c == "." || c == ".." {
			return badPath(fmt.Sprintf("mount path %q contains a %q component: give the path without . or ..", p, c), nil)
		}
	}
	if c := path.Clean(p); c != p {
		return badPath(fmt.Sprintf("mount path %q is not clean: give %q", p, c), nil)
	}
	if p == "/" {
		return badPath("mount path is /: refusing to mount over the machine's root", nil)
	}
	for _, a := range allowed {
		if under(p, a) {
			return nil
		}
	}
	if len(allowed) == 0 {
		return badPath(fmt.Sprintf("mount path %q refused: this machine may mount nowhere (it declares no allowed prefixes)", p), nil)
	}
	return badPath(fmt.Sprintf("mount path %q is outside the machine's allowed prefixes (%s)", p, strings.Join(allowed, ", ")), nil)
}

// under reports whether the clean absolute path p is prefix or below it.
func under(p, prefix string) bool {
	if !strings.HasPrefix(prefix, "/") || path.Clean(prefix) != prefix {
		return false
	}
	if prefix == "/" {
		return true
	}
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}
