package nspawn

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/schema"
)

// Private user ranges: nspawn's chown only works on a range of exactly
// 64Ki ids starting at a multiple of it, and nested rootless podman needs a
// second 64Ki inside the machine.
const (
	idBlock        = 65536
	nestedMinRange = 2 * idBlock
	maxMachineName = 64
)

// nameValidator accepts what systemd-nspawn accepts as a machine name
// (a valid hostname of at most 64 characters), minus a leading "-",
// which command lines would take for an option.
var nameValidator = schema.StringValidator("a machine name", checkMachineName)

func checkMachineName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("the machine name is empty")
	case len(s) > maxMachineName:
		return fmt.Errorf("%q is %d characters long; systemd-nspawn accepts at most %d", s, len(s), maxMachineName)
	case s == "." || s == ".." || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, ".."):
		return fmt.Errorf("%q is not a machine name systemd-nspawn accepts: dots may only separate labels", s)
	case strings.HasPrefix(s, "-"):
		return fmt.Errorf("%q starts with -, which command lines take for an option", s)
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%q holds %q; systemd-nspawn accepts only letters, digits, -, _ and dots in a machine name", s, c)
		}
	}
	return nil
}

var absPathValidator = schema.StringValidator("an absolute path", func(s string) error { return checkAbsPath("the path", s) })

func checkAbsPath(what, p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("%s %q is not absolute: write it from the root", what, p)
	case path.Clean(p) != p:
		return fmt.Errorf("%s %q is not clean: write %q", what, p, path.Clean(p))
	case p == "/":
		return fmt.Errorf("%s may not be /", what)
	}
	return nil
}

// userRange is a parsed private_users value.
type userRange struct {
	mode        string // "pick", "no" or "range"
	base, count uint32
}

func (u userRange) String() string {
	if u.mode != "range" {
		return u.mode
	}
	return fmt.Sprintf("%d:%d", u.base, u.count)
}

func parsePrivateUsers(s string) (userRange, error) {
	switch s {
	case "pick", "no":
		return userRange{mode: s}, nil
	}
	b, c, ok := strings.Cut(s, ":")
	if !ok {
		return userRange{}, fmt.Errorf("%q is not `pick`, `no` or `BASE:RANGE` (such as \"570097664:131072\")", s)
	}
	base, err1 := strconv.ParseUint(b, 10, 32)
	count, err2 := strconv.ParseUint(c, 10, 32)
	switch {
	case err1 != nil || err2 != nil:
		return userRange{}, fmt.Errorf("%q is not BASE:RANGE with two decimal numbers below 2^32", s)
	case base < idBlock:
		return userRange{}, fmt.Errorf("base %d would map the machine's users onto the host's system users; use a base of %d or more, e.g. 570097664", base, idBlock)
	case count == 0:
		return userRange{}, fmt.Errorf("the range %q holds no ids", s)
	case base+count > 1<<32-1:
		return userRange{}, fmt.Errorf("the range %q ends beyond the last uid, 4294967294", s)
	}
	return userRange{mode: "range", base: uint32(base), count: uint32(count)}, nil
}

var privateUsersValidator = schema.StringValidator("pick, no or BASE:RANGE", func(s string) error {
	_, err := parsePrivateUsers(s)
	return err
})

var bindValidator = schema.Validator{Description: "SOURCE[:DEST[:OPTIONS]] with absolute paths", Check: func(v cty.Value) error {
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if _, err := parseBind(e.AsString()); err != nil {
			return err
		}
	}
	return nil
}}

// bind is one parsed bind mount.
type bind struct{ source, dest, options string }

func parseBind(s string) (bind, error) {
	parts := strings.SplitN(s, ":", 3)
	b := bind{source: parts[0]}
	if len(parts) > 1 {
		b.dest = parts[1]
	}
	if len(parts) > 2 {
		b.options = parts[2]
	}
	if err := checkAbsPath("the bind source", strings.TrimPrefix(b.source, "+")); err != nil {
		return b, err
	}
	if b.dest != "" {
		if err := checkAbsPath("the bind destination", b.dest); err != nil {
			return b, err
		}
	}
	return b, nil
}

var envValidator = schema.Validator{Description: "environment variable names", Check: func(v cty.Value) error {
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		name := k.AsString()
		if name == "" || strings.ContainsAny(name, "= \t\n") || ('0' <= name[0] && name[0] <= '9') {
			return fmt.Errorf("%q is not an environment variable name", name)
		}
		if strings.ContainsAny(e.AsString(), "\n\"\\") {
			return fmt.Errorf("the value of %s holds a newline, a double quote or a backslash, which a .nspawn or unit file's Environment= cannot carry unchanged", name)
		}
	}
	return nil
}}

var durationValidator = schema.StringValidator("a duration such as \"1h\"", func(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is not a duration such as \"30m\" or \"1h\"", s)
	}
	return nil
})

// validateMachine checks the rules nspawn enforces only when the machine
// starts, and the ones the original setup learnt the hard way.
func validateMachine(v cty.Value) []*schema.Problem {
	str := func(name string) (string, bool) {
		a := v.GetAttr(name)
		if a.IsNull() || !a.IsKnown() {
			return "", false
		}
		return a.AsString(), true
	}
	var out []*schema.Problem
	pu, puKnown := str("private_users")
	own, ownKnown := str("ownership")
	ro := v.GetAttr("read_only")
	if !puKnown || !ownKnown {
		return nil
	}
	users, err := parsePrivateUsers(pu)
	if err != nil {
		return nil // the attribute's validator said so
	}
	if own == "chown" && ro.IsKnown() && !ro.IsNull() && ro.True() {
		out = append(out, &schema.Problem{Path: cty.GetAttrPath("ownership"), Summary: "read_only with chown ownership",
			Detail: "systemd-nspawn refuses --read-only together with --private-users-ownership=chown: it cannot chown a read-only root. " +
				"Use ownership = \"off\" (rigplan unpacks the root already shifted to the range) or \"map\"."})
	}
	if own == "chown" && users.mode == "range" && (users.base%idBlock != 0 || users.count != idBlock) {
		out = append(out, &schema.Problem{Path: cty.GetAttrPath("ownership"), Summary: "chown needs an aligned 65536 range",
			Detail: fmt.Sprintf("systemd-nspawn's automatic chown only works for a base that is a multiple of 65536 with a range of exactly 65536; "+
				"private_users is %s. Use ownership = \"off\": rigplan unpacks the root shifted to any range.", users)})
	}
	if own == "off" && users.mode == "pick" {
		out = append(out, &schema.Problem{Path: cty.GetAttrPath("ownership"), Summary: "ownership off with a picked range",
			Detail: "With private_users = \"pick\" the range is only known when nspawn starts the machine, so rigplan cannot unpack the root shifted to it. " +
				"Give private_users an explicit BASE:RANGE, or use ownership = \"chown\", \"map\" or \"auto\"."})
	}
	if np := v.GetAttr("nested_podman"); np.IsKnown() && !np.IsNull() && np.True() {
		switch {
		case users.mode == "range" && users.count < nestedMinRange:
			out = append(out, &schema.Problem{Path: cty.GetAttrPath("private_users"), Summary: "No room for nested podman",
				Detail: fmt.Sprintf("The jobs run rootless podman (nested_podman = true), which maps a second 65536 ids inside the machine; "+
					"the range %s holds %d. Give it at least %d ids, as the original setup did (570097664:131072).", users, users.count, nestedMinRange)})
		case users.mode != "range":
			// private_users may be left at its default: point at the flag.
			out = append(out, &schema.Problem{Path: cty.GetAttrPath("nested_podman"), Summary: "No room for nested podman",
				Detail: fmt.Sprintf("The jobs run rootless podman (nested_podman = true), which needs %d ids in the machine; private_users = %q gives at most 65536. "+
					"Write an explicit BASE:RANGE such as \"570097664:131072\".", nestedMinRange, pu)})
		}
	}
	if cmd := v.GetAttr("command"); cmd.IsWhollyKnown() && !cmd.IsNull() && cmd.LengthInt() > 0 {
		if first := cmd.Index(cty.NumberIntVal(0)); first.AsString() == "" {
			out = append(out, &schema.Problem{Path: cty.GetAttrPath("command"), Summary: "Empty command", Detail: "The command's first word is the program to run; it may not be empty."})
		}
		for _, w := range stringList(cmd) {
			if !quotable(w) {
				out = append(out, &schema.Problem{Path: cty.GetAttrPath("command"), Summary: "Command word rigplan cannot quote",
					Detail: fmt.Sprintf("%q holds a single quote and a double quote or backslash, which systemd-nspawn's Parameters= does not carry unchanged. Put the script into the image and run it by its path.", w)})
			}
		}
	}
	return out
}
