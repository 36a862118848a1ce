package cache

import (
	"fmt"
	"math/big"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/cache/store/lvmstore"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/schema"
)

// maxSocketPath is the longest path a unix socket can be bound to:
// sun_path holds 108 bytes with the terminating NUL.
const maxSocketPath = 107

// maxMachineName is systemd's limit for machine names (a host name).
const maxMachineName = 64

// checkAbsPath requires an absolute, clean path other than /.
func checkAbsPath(what, p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("%s %q is not absolute: write it from the root, such as /srv/cache", what, p)
	case path.Clean(p) != p:
		return fmt.Errorf("%s %q is not clean: write %s", what, p, path.Clean(p))
	case p == "/":
		return fmt.Errorf("%s may not be / itself", what)
	case strings.ContainsAny(p, "\x00\n"):
		return fmt.Errorf("%s %q holds a NUL or newline", what, p)
	}
	return nil
}

var absPathValidator = schema.StringValidator("an absolute, clean path", func(s string) error { return checkAbsPath("path", s) })

// checkExecutable refuses paths that systemd would split or expand in
// ExecStart=, rather than quoting them.
func checkExecutable(p string) error {
	if err := checkAbsPath("executable", p); err != nil {
		return err
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`"'\%$;`, r) {
			return fmt.Errorf("executable %q holds %q, which systemd's ExecStart= would interpret: install rigplan at a plain path such as /usr/local/bin/rigplan", p, r)
		}
	}
	return nil
}

var executableValidator = schema.StringValidator("an absolute path without spaces, quotes, %, $ or \\", checkExecutable)

func checkSocket(p string) error {
	if err := checkAbsPath("socket", p); err != nil {
		return err
	}
	if len(p) > maxSocketPath {
		return fmt.Errorf("socket %q is %d bytes long; a unix socket path can have at most %d: choose a shorter one", p, len(p), maxSocketPath)
	}
	if path.Dir(p) == "/" {
		return fmt.Errorf("socket %q is directly in /: its directory is bind-mounted into machines, so give it one of its own, such as %s", p, agent.DefaultHostSocket)
	}
	return nil
}

var socketValidator = schema.StringValidator("an absolute path of at most 107 bytes, in a directory of its own", checkSocket)

// parseMode reads "0755" or "755".
func parseMode(s string) (uint32, error) {
	if len(s) < 3 || len(s) > 4 {
		return 0, fmt.Errorf("mode %q must be 3 or 4 octal digits, such as \"0755\"", s)
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("mode %q must be octal permission bits up to 0777, such as \"0755\"", s)
	}
	return uint32(n), nil
}

var modeValidator = schema.StringValidator(`an octal mode such as "0755"`, func(s string) error { _, err := parseMode(s); return err })

// checkMachineName follows systemd's rules for machine names (host names).
func checkMachineName(n string) error {
	if n == "" || len(n) > maxMachineName {
		return fmt.Errorf("machine name %q: want 1 to %d characters", n, maxMachineName)
	}
	if n[0] == '.' || n[0] == '-' {
		return fmt.Errorf("machine name %q may not start with %q", n, n[0])
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("machine name %q holds %q: systemd machine names use letters, digits, -, _ and dots", n, c)
		}
	}
	return nil
}

var machinesValidator = schema.Validator{
	Description: "a map from machine names to lists of absolute mount path prefixes",
	Check: func(v cty.Value) error {
		m := v.AsValueMap()
		if len(m) == 0 {
			return fmt.Errorf("no machines are declared, so every request would be refused: declare each machine that may use the cache and where it may mount, e.g. { \"runner-1\" = [\"/home/runner/cache\"] }")
		}
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, name := range names {
			if err := checkMachineName(name); err != nil {
				return err
			}
			prefixes := m[name]
			if prefixes.IsNull() || prefixes.LengthInt() == 0 {
				return fmt.Errorf("machine %q has no mount prefixes, so it could mount nowhere: give at least one, such as [\"/home/runner/cache\"]", name)
			}
			for it := prefixes.ElementIterator(); it.Next(); {
				_, p := it.Element()
				if p.IsNull() {
					return fmt.Errorf("machine %q: a mount prefix is null", name)
				}
				if err := checkAbsPath(fmt.Sprintf("machine %q: mount prefix", name), p.AsString()); err != nil {
					return err
				}
			}
		}
		return nil
	},
}

var defaultVolumeValidator = schema.StringValidator(`"VG/LV", the id of a volume`, func(s string) error {
	if _, err := lvmstore.New(sysexec.Refuse{Reason: "validation"}, lvmstore.Config{Default: s}); err != nil {
		return fmt.Errorf("%w; write default_volume = volume.NAME.id", err)
	}
	return nil
})

var namespaceValidator = schema.StringValidator("letters, digits and _ . + -, starting with a letter, at most 23 characters", func(s string) error {
	_, err := lvmstore.New(sysexec.Refuse{Reason: "validation"}, lvmstore.Config{Default: "vg/lv", Namespace: s})
	return err
})

var mountOptionsValidator = schema.Validator{
	Description: "mount options, one per element, without commas or spaces",
	Check: func(v cty.Value) error {
		var opts []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				return fmt.Errorf("a mount option is null")
			}
			opts = append(opts, e.AsString())
		}
		_, err := lvmstore.New(sysexec.Refuse{Reason: "validation"}, lvmstore.Config{Default: "vg/lv", MountOptions: opts})
		return err
	},
}

var defaultSubvolumeValidator = schema.StringValidator("an absolute path whose base name is a valid snapshot name", func(s string) error {
	if err := checkAbsPath("default subvolume", s); err != nil {
		return err
	}
	if err := store.CheckName(path.Base(s)); err != nil {
		return fmt.Errorf("default subvolume %s: its base name is its name in the cache: %w", s, err)
	}
	return nil
})

// wholeNumber reads a cty number that must be an integer.
func wholeNumber(v cty.Value) (int64, bool) {
	n, acc := v.AsBigFloat().Int64()
	return n, acc == big.Exact
}

func countValidator(lo, hi int64) schema.Validator {
	return schema.Validator{
		Description: fmt.Sprintf("a whole number from %d to %d", lo, hi),
		Check: func(v cty.Value) error {
			n, ok := wholeNumber(v)
			if !ok || n < lo || n > hi {
				return fmt.Errorf("%s is not a whole number from %d to %d", v.AsBigFloat().Text('f', -1), lo, hi)
			}
			return nil
		},
	}
}

var percentValidator = schema.Validator{
	Description: "a percentage from 0 to 100",
	Check: func(v cty.Value) error {
		f, _ := v.AsBigFloat().Float64()
		if f < 0 || f > 100 {
			return fmt.Errorf("%s is not a percentage from 0 to 100", v.AsBigFloat().Text('f', -1))
		}
		return nil
	},
}

// off is how a duration that can be switched off is switched off.
const off = "off"

// parseDuration reads a duration such as "90s" or "168h"; with allowOff,
// "off" reads as 0.
func parseDuration(s string, allowOff bool) (time.Duration, error) {
	if allowOff && s == off {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		hint := `a positive duration such as "90s", "10m" or "168h"`
		if allowOff {
			hint += `, or "off"`
		}
		return 0, fmt.Errorf("%q is not %s", s, hint)
	}
	return d, nil
}

func durationValidator(allowOff bool) schema.Validator {
	desc := `a duration such as "90s" or "168h"`
	if allowOff {
		desc += `, or "off"`
	}
	return schema.StringValidator(desc, func(s string) error { _, err := parseDuration(s, allowOff); return err })
}

// formatDuration writes d the way one would type it: "2m" rather than
// Go's "2m0s", "168h" rather than "168h0m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// validateCache checks the rules that span attributes.
func validateCache(config cty.Value) []*schema.Problem {
	var out []*schema.Problem
	lvm, btrfs := config.GetAttr("lvm_store"), config.GetAttr("btrfs_store")
	switch {
	case !lvm.IsKnown() || !btrfs.IsKnown():
	case lvm.IsNull() && btrfs.IsNull():
		out = append(out, &schema.Problem{
			Summary: "Missing store",
			Detail:  "A cache needs a store for its snapshots: add an lvm_store block (default_volume = volume.NAME.id) or a btrfs_store block (directory and default_subvolume).",
		})
	case !lvm.IsNull() && !btrfs.IsNull():
		out = append(out, &schema.Problem{
			Path:    cty.GetAttrPath("btrfs_store"),
			Summary: "Two stores",
			Detail:  "A cache keeps its snapshots in one store: keep either the lvm_store or the btrfs_store block. Two stores need two cache blocks, with two sockets.",
		})
	}
	if r := config.GetAttr("retention"); r.IsKnown() && !r.IsNull() {
		out = append(out, checkWatermarks(r, "data")...)
		out = append(out, checkWatermarks(r, "metadata")...)
	}
	if s := config.GetAttr("socket"); s.IsKnown() && !s.IsNull() {
		out = append(out, checkSocketDir(s.AsString())...)
	}
	if m := config.GetAttr("socket_directory_mode"); m.IsKnown() && !m.IsNull() {
		if mode, err := parseMode(m.AsString()); err == nil && mode&0o001 == 0 {
			out = append(out, &schema.Problem{
				Path:    cty.GetAttrPath("socket_directory_mode"),
				Summary: "Machines cannot reach the socket",
				Detail:  fmt.Sprintf("With mode %s others cannot search the socket's directory, and the machines' users are others on the host (their user namespace maps them to unprivileged host users). The agent checks who asks from the peer, not from permissions; use 0755 unless you mean to lock the machines out.", m.AsString()),
				Warning: true,
			})
		}
	}
	return out
}

// checkWatermarks checks a high/low pair as the agent will.
func checkWatermarks(r cty.Value, what string) []*schema.Problem {
	hv, lv := r.GetAttr(what+"_high_percent"), r.GetAttr(what+"_low_percent")
	if !hv.IsKnown() || !lv.IsKnown() || hv.IsNull() || lv.IsNull() {
		return nil
	}
	high, _ := hv.AsBigFloat().Float64()
	low, _ := lv.AsBigFloat().Float64()
	if high == 0 && low == 0 || low < high && high > 0 {
		return nil
	}
	detail := fmt.Sprintf("The low mark (%g%%) must be below the high mark (%g%%): above the high mark the agent deletes old snapshots until usage is under the low one. Set both to 0 to switch the %s watermark off.", low, high, what)
	if high == 0 {
		detail = fmt.Sprintf("A high mark of 0 switches the %s watermark off; then the low mark must be 0 too.", what)
	}
	return []*schema.Problem{{
		Path:    cty.GetAttrPath("retention").GetAttr(what + "_low_percent"),
		Summary: fmt.Sprintf("Invalid %s watermarks", what),
		Detail:  detail,
	}}
}

// checkSocketDir refuses a socket whose directory overlaps the agents'
// state directories, as the agent would at start.
func checkSocketDir(socket string) []*schema.Problem {
	if checkSocket(socket) != nil {
		return nil // reported by the attribute's validator
	}
	dir, root := path.Dir(socket), agent.DefaultStateRoot
	if dir == root || strings.HasPrefix(dir, root+"/") || strings.HasPrefix(root, dir+"/") {
		return []*schema.Problem{{
			Path:    cty.GetAttrPath("socket"),
			Summary: "Socket directory overlaps the agent's state",
			Detail: fmt.Sprintf("The socket's directory %s is bind-mounted into machines, and the agent keeps its own short-lived mounts in %s/NAME, which machines must not see. Put the socket in a directory of its own, such as %s.",
				dir, root, agent.DefaultHostSocket),
		}}
	}
	return nil
}
