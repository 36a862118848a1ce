package systemd

import (
	"fmt"
	"path"
	"strings"
)

// EscapePath turns an absolute path into the name systemd gives its
// device or mount unit, without the suffix, as `systemd-escape --path`
// does: "/dev/vg0/cache-default" becomes `dev-vg0-cache\x2ddefault`.
func EscapePath(p string) string {
	p = strings.Trim(path.Clean(p), "/")
	if p == "" {
		return "-"
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c == '.' && i == 0:
			// A leading dot would make a hidden name.
			fmt.Fprintf(&b, `\x%02x`, c)
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == ':', c == '_', c == '.':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

// DeviceUnit is the device unit systemd makes for a device node or
// symlink, e.g. `dev-vg0-cache\x2ddefault.device`.
func DeviceUnit(dev string) string { return EscapePath(dev) + ".device" }
