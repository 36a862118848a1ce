package lvm

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rigplan/rigplan/internal/lvmtag"
	"github.com/rigplan/rigplan/schema"
)

// Ownership marks and recorded facts, all kept as LVM tags (see doc.go).
const (
	// tagPrefix starts every tag rigplan writes; user tags may not use it.
	tagPrefix = "rigplan:"
	// tagManaged is on every object rigplan created.
	tagManaged = "rigplan:managed"
	// tagAddr + encoded address says which resource instance it is.
	tagAddr = "rigplan:addr:"
	// tagOwner + "UID:GID" records the owner applied to a volume's root.
	tagOwner = "rigplan:owner="
	// tagMode + octal mode records the mode applied to a volume's root.
	tagMode = "rigplan:mode="
	// tagMkfs + encoded options records the mkfs options a volume was made
	// with, which cannot be read back from the filesystem.
	tagMkfs = "rigplan:mkfs="
	// tagGrowFrom + bytes is set while a volume's filesystem is being
	// grown: it holds the size the filesystem had before, and stays if
	// the grow fails half-way, so that the next plan grows it again.
	tagGrowFrom = "rigplan:grow-from="
	// tagUnfinished is set by the lvcreate of a volume and removed by the
	// lvchange that records its owner, the last step of its creation: a
	// volume that still carries it was left half-made by an apply that
	// stopped (killed, or the host went down) and holds no data of anyone's.
	tagUnfinished = "rigplan:unfinished"
)

// marks are the rigplan tags of one object, decoded.
type marks struct {
	Managed bool
	// Addr is the decoded address; AddrErr says why it could not be read.
	Addr    schema.Address
	HasAddr bool
	AddrErr error
	// User are the tags that are not rigplan's.
	User []string

	HasOwner bool
	UID, GID int64
	Mode     string // "" when not recorded
	Mkfs     string // the encoded options; "" when none were given
	HasMkfs  bool
	GrowFrom int64 // 0 when no grow is pending
	// CacheSnapshot says the cache agent made this snapshot: rigplan's
	// data, deleted with the pool that holds it.
	CacheSnapshot bool
	// Unfinished says the volume's creation never reached its end.
	Unfinished bool
}

// parseMarks splits an object's tags into rigplan's and the user's.
func parseMarks(tags []string) marks {
	var m marks
	for _, t := range tags {
		switch {
		case t == tagManaged:
			m.Managed = true
		case strings.HasPrefix(t, tagAddr):
			m.HasAddr = true
			s, err := lvmtag.Decode(strings.TrimPrefix(t, tagAddr))
			if err == nil {
				m.Addr, err = schema.ParseAddress(s)
			}
			m.AddrErr = err
		case strings.HasPrefix(t, tagOwner):
			u, g, ok := strings.Cut(strings.TrimPrefix(t, tagOwner), ":")
			uid, err1 := strconv.ParseInt(u, 10, 64)
			gid, err2 := strconv.ParseInt(g, 10, 64)
			if ok && err1 == nil && err2 == nil {
				m.HasOwner, m.UID, m.GID = true, uid, gid
			}
		case strings.HasPrefix(t, tagMode):
			m.Mode = strings.TrimPrefix(t, tagMode)
		case strings.HasPrefix(t, tagMkfs):
			m.HasMkfs, m.Mkfs = true, strings.TrimPrefix(t, tagMkfs)
		case t == tagUnfinished:
			m.Unfinished = true
		case strings.HasPrefix(t, tagGrowFrom):
			if n, err := strconv.ParseInt(strings.TrimPrefix(t, tagGrowFrom), 10, 64); err == nil {
				m.GrowFrom = n
			}
		case t == lvmtag.CacheSnapshot:
			m.CacheSnapshot = true
		case strings.HasPrefix(t, tagPrefix):
			// Another rigplan component's tag (the cache agent's): neither
			// ours nor the user's.
		default:
			m.User = append(m.User, t)
		}
	}
	return m
}

// owns reports whether the marks make the object rigplan's instance addr.
func (m marks) owns() bool { return m.Managed && m.HasAddr && m.AddrErr == nil }

// addrTag is the ownership tag for addr. It fails when the address is too
// long for a tag, which only a very long for_each key can cause.
func addrTag(addr schema.Address) (string, error) {
	t := tagAddr + lvmtag.Encode(addr.String())
	if len(t) > lvmtag.MaxTagLen {
		return "", fmt.Errorf("the address %s is too long to record in an LVM tag (%d characters, at most %d): use a shorter for_each key", addr, len(t), lvmtag.MaxTagLen)
	}
	return t, nil
}

// ownerTag records uid and gid.
func ownerTag(uid, gid int64) string { return fmt.Sprintf("%s%d:%d", tagOwner, uid, gid) }

// modeTag records a mode in canonical four-digit octal.
func modeTag(mode uint32) string { return fmt.Sprintf("%s%04o", tagMode, mode) }

// mkfsTag records mkfs options, or "" when there are none.
func mkfsTag(opts []string) string {
	if len(opts) == 0 {
		return ""
	}
	return tagMkfs + encodeMkfs(opts)
}

// encodeMkfs is the tag value for a list of mkfs options: reversible while
// short, hashed when long (only compared then).
func encodeMkfs(opts []string) string {
	return lvmtag.EncodeTerm(strings.Join(opts, "\n"), lvmtag.MaxTagLen-len(tagMkfs))
}

// decodeMkfs reverses encodeMkfs when the options were short enough.
func decodeMkfs(v string) ([]string, bool) {
	s, err := lvmtag.Decode(v)
	if err != nil {
		return nil, false
	}
	return strings.Split(s, "\n"), true
}

// growFromTag marks a grow in progress.
func growFromTag(n int64) string { return tagGrowFrom + strconv.FormatInt(n, 10) }

// ownTags are the tags every object rigplan creates starts with.
func ownTags(addr schema.Address) ([]string, error) {
	t, err := addrTag(addr)
	if err != nil {
		return nil, err
	}
	return []string{tagManaged, t}, nil
}
