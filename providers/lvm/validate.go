package lvm

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/bytesize"
	"github.com/rigplan/rigplan/internal/lvmtag"
	"github.com/rigplan/rigplan/schema"
)

// LVM's naming rules (lvm(8), "VALID NAMES").
const maxNameLen = 127

// lvReservedParts may not appear in an LV name: LVM uses them for the
// hidden sub-LVs of pools, mirrors and RAID.
var lvReservedParts = []string{"_cdata", "_cmeta", "_corig", "_iorig", "_mimage", "_mlog", "_pmspare",
	"_rimage", "_rmeta", "_tdata", "_tmeta", "_vdata", "_vorigin", "_wcorig"}

func checkName(kind, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%s name is empty", kind)
	case len(s) > maxNameLen:
		return fmt.Errorf("%s name %q is longer than %d characters", kind, s, maxNameLen)
	case s == "." || s == "..":
		return fmt.Errorf("%s name %q is reserved", kind, s)
	case s[0] == '-':
		return fmt.Errorf("%s name %q may not start with '-'", kind, s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("+_.-", c) >= 0) {
			return fmt.Errorf("%s name %q holds %q: LVM names may only use letters, digits and + _ . -", kind, s, c)
		}
	}
	return nil
}

func checkVGName(s string) error { return checkName("volume group", s) }

func checkLVName(s string) error {
	if err := checkName("logical volume", s); err != nil {
		return err
	}
	for _, p := range []string{"snapshot", "pvmove"} {
		if strings.HasPrefix(s, p) {
			return fmt.Errorf("logical volume name %q may not start with %q (reserved by LVM)", s, p)
		}
	}
	for _, part := range lvReservedParts {
		if strings.Contains(s, part) {
			return fmt.Errorf("logical volume name %q may not contain %q (reserved by LVM for hidden volumes)", s, part)
		}
	}
	return nil
}

// splitPoolID splits "vg/pool" as written in a volume's thin_pool.
func splitPoolID(s string) (vg, pool string, err error) {
	vg, pool, ok := strings.Cut(s, "/")
	if !ok || strings.Contains(pool, "/") {
		return "", "", fmt.Errorf("thin_pool %q must be \"VG/POOL\", e.g. thin_pool = thin_pool.cache.id", s)
	}
	if err := checkVGName(vg); err != nil {
		return "", "", err
	}
	if err := checkLVName(pool); err != nil {
		return "", "", err
	}
	return vg, pool, nil
}

func checkUserTag(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("empty tag")
	case strings.HasPrefix(t, tagPrefix):
		return fmt.Errorf("tag %q starts with %q, which is reserved for rigplan's own marks", t, tagPrefix)
	case len(t) > lvmtag.MaxTagLen:
		return fmt.Errorf("tag %q is longer than %d characters", t, lvmtag.MaxTagLen)
	}
	for i := 0; i < len(t); i++ {
		if !lvmtag.Allowed(t[i]) {
			return fmt.Errorf("tag %q holds %q: LVM tags may only use letters, digits and _ + . : / = ! # & -", t, t[i])
		}
	}
	return nil
}

// parseMode reads "0755" or "755".
func parseMode(s string) (uint32, error) {
	if len(s) < 3 || len(s) > 4 {
		return 0, fmt.Errorf("mode %q must be 3 or 4 octal digits, such as \"0755\"", s)
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("mode %q must be octal digits, such as \"0755\"", s)
	}
	return uint32(n), nil
}

var (
	vgNameValidator = schema.StringValidator("an LVM volume group name: letters, digits and + _ . -", checkVGName)
	lvNameValidator = schema.StringValidator("an LVM logical volume name: letters, digits and + _ . -", checkLVName)
	poolIDValidator = schema.StringValidator(`"VG/POOL", the id of a thin_pool`, func(s string) error { _, _, err := splitPoolID(s); return err })
	modeValidator   = schema.StringValidator(`an octal mode such as "0755"`, func(s string) error { _, err := parseMode(s); return err })
)

// tagsValidator checks each element of a set of user tags.
var tagsValidator = schema.Validator{
	Description: "LVM tags ([A-Za-z0-9_+.:/=!#&-], at most 128 characters) not starting with \"rigplan:\"",
	Check: func(v cty.Value) error {
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() || !e.IsKnown() {
				continue
			}
			if err := checkUserTag(e.AsString()); err != nil {
				return err
			}
		}
		return nil
	},
}

// idValidator checks a uid or gid.
var idValidator = schema.Validator{
	Description: "a numeric user or group id (0 to 4294967294)",
	Check: func(v cty.Value) error {
		bf := v.AsBigFloat()
		n, acc := bf.Int64()
		if acc != big.Exact || n < 0 || n > 4294967294 {
			return fmt.Errorf("%s is not a user or group id: use a whole number from 0 to 4294967294", bf.Text('f', -1))
		}
		return nil
	},
}

// sizeCheck builds a validator of a size with an extra rule.
func sizeCheck(desc string, check func(n int64) error) schema.Validator {
	return schema.Validator{Description: desc, Check: func(v cty.Value) error {
		n, err := bytesize.Parse(v.AsString())
		if err != nil {
			return err
		}
		return check(n)
	}}
}

// extentSizeValidator mirrors vgcreate: at least 1KiB, a power of two or a
// multiple of 128KiB.
var extentSizeValidator = sizeCheck("a power of two of at least 1K, or a multiple of 128K", func(n int64) error {
	if n < bytesize.KiB || (n&(n-1) != 0 && n%(128*bytesize.KiB) != 0) {
		return fmt.Errorf("extent size %s must be a power of two of at least 1K (such as 4M) or a multiple of 128K", bytesize.Format(n))
	}
	return nil
})

// chunkSizeValidator mirrors lvcreate's thin pool chunk size rule.
var chunkSizeValidator = sizeCheck("a multiple of 64K from 64K to 1G", func(n int64) error {
	if n < 64*bytesize.KiB || n > bytesize.GiB || n%(64*bytesize.KiB) != 0 {
		return fmt.Errorf("chunk size %s must be a multiple of 64K from 64K to 1G", bytesize.Format(n))
	}
	return nil
})

// metadataSizeValidator refuses what lvcreate would silently change.
var metadataSizeValidator = sizeCheck("from 2M to 15.8G", func(n int64) error {
	if n < minPoolMetadata || n > maxPoolMetadata {
		return fmt.Errorf("pool metadata size %s must be from 2M to %s (LVM's limits)", bytesize.Format(n), bytesize.Format(maxPoolMetadata))
	}
	return nil
})
