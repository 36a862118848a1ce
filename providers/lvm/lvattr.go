package lvm

import (
	"fmt"
)

// lvAttr is LVM's ten-character lv_attr field, decoded. See lvs(8),
// "lv_attr bits".
type lvAttr struct {
	raw string
	// Type is position 1: 'V' thin volume, 't' thin pool, 'T' pool data,
	// 'e' metadata or spare, 's' snapshot, '-' plain, and so on.
	Type byte
	// State is position 5: 'a' active, '-' inactive, 's' suspended, ….
	State byte
	// Open is position 6: the device is open (mounted or in use).
	Open bool
	// SkipActivation is position 10: the LV is skipped on activation (thin
	// snapshots are, by default).
	SkipActivation bool
}

// attrPosition is one position of lv_attr with the values LVM documents
// for it. A value outside the table is a parse error: an LVM that reports
// something we do not know should not be silently misread.
type attrPosition struct {
	name   string
	values map[byte]string
}

var lvAttrTable = [10]attrPosition{
	{"volume type", map[byte]string{
		'C': "cache", 'm': "mirrored", 'M': "mirrored without initial sync", 'o': "origin",
		'O': "origin with merging snapshot", 'g': "integrity", 'r': "raid", 'R': "raid without initial sync",
		's': "snapshot", 'S': "merging snapshot", 'p': "pvmove", 'v': "virtual", 'i': "mirror or raid image",
		'I': "mirror or raid image out of sync", 'l': "mirror log", 'c': "under conversion", 'V': "thin volume",
		't': "thin pool", 'T': "thin pool data", 'd': "vdo pool", 'D': "vdo pool data", 'e': "raid or pool metadata or pool metadata spare",
		'-': "plain",
	}},
	{"permissions", map[byte]string{'w': "writeable", 'r': "read-only", 'R': "read-only activation of non-read-only volume", '-': "none"}},
	{"allocation policy", map[byte]string{
		'a': "anywhere", 'c': "contiguous", 'i': "inherited", 'l': "cling", 'n': "normal",
		'A': "anywhere, locked", 'C': "contiguous, locked", 'I': "inherited, locked", 'L': "cling, locked", 'N': "normal, locked", '-': "none",
	}},
	{"fixed minor", map[byte]string{'m': "fixed minor", '-': "no"}},
	{"state", map[byte]string{
		'a': "active", 'h': "historical", 's': "suspended", 'I': "invalid snapshot", 'S': "invalid suspended snapshot",
		'm': "snapshot merge failed", 'M': "suspended snapshot merge failed", 'd': "mapped device present without tables",
		'i': "mapped device present with inactive table", 'c': "thin-pool check needed", 'C': "suspended thin-pool check needed",
		'X': "unknown", '-': "inactive",
	}},
	{"device open", map[byte]string{'o': "open", 'X': "unknown", '-': "closed"}},
	{"target type", map[byte]string{
		'C': "cache", 'm': "mirror", 'r': "raid", 's': "snapshot", 't': "thin", 'u': "unknown", 'v': "virtual", 'd': "vdo", 'D': "vdo", 'g': "integrity", '-': "normal",
	}},
	{"zero", map[byte]string{'z': "newly-allocated data blocks are zeroed", '-': "no"}},
	{"health", map[byte]string{
		'p': "partial", 'r': "refresh needed", 'm': "mismatches exist", 'w': "writemostly", 'X': "unknown",
		'F': "failed", 'D': "out of data space", 'M': "metadata read only", 'E': "dm-writecache error", '-': "ok",
	}},
	{"skip activation", map[byte]string{'k': "skip activation", '-': "no"}},
}

// parseLVAttr decodes lv_attr by the table above.
func parseLVAttr(s string) (lvAttr, error) {
	if len(s) != len(lvAttrTable) {
		return lvAttr{}, fmt.Errorf("lv_attr %q: want %d characters", s, len(lvAttrTable))
	}
	for i, pos := range lvAttrTable {
		if _, ok := pos.values[s[i]]; !ok {
			return lvAttr{}, fmt.Errorf("lv_attr %q: unknown %s %q at position %d", s, pos.name, s[i], i+1)
		}
	}
	return lvAttr{
		raw:            s,
		Type:           s[0],
		State:          s[4],
		Open:           s[5] == 'o',
		SkipActivation: s[9] == 'k',
	}, nil
}

// String is the raw field.
func (a lvAttr) String() string { return a.raw }

// Describe names the LV's kind for messages, e.g. "thin volume".
func (a lvAttr) Describe() string { return lvAttrTable[0].values[a.Type] }

// IsThinPool reports a thin pool LV.
func (a lvAttr) IsThinPool() bool { return a.Type == 't' }

// IsThinVolume reports a thin volume (including thin snapshots).
func (a lvAttr) IsThinVolume() bool { return a.Type == 'V' }

// Active reports whether the LV's device is active.
func (a lvAttr) Active() bool { return a.State == 'a' }
