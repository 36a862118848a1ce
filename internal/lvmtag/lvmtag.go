// Package lvmtag encodes arbitrary strings into LVM tags, reversibly.
//
// LVM tags may only hold the characters [A-Za-z0-9_+.:/=!#&-]. rigplan keeps
// its state in tags (resource addresses such as volume.caches["x"]) and the
// cache agent keeps workflow annotations there (branch names with "/",
// unicode, lock-file hashes), so both need every string to survive the trip.
//
// The encoding keeps every allowed byte as it is, except the escape
// character '&', and writes every other byte of the string's UTF-8 form
// as '&' followed by two upper-case hex digits: `volume.caches["x"]`
// becomes `volume.caches&5B&22x&22&5D`. Each string has exactly one
// encoding and Decode refuses anything Encode would not have produced, so
// comparing encoded tags is the same as comparing the strings.
//
// LVM 2.03 accepts tags of any length (we measured 65536 characters), but
// older releases stopped at 128 and every tag is stored in the volume
// group's metadata, which LVM rewrites in full on each change and which is
// only 1 MiB by default. EncodeTerm therefore caps a term at a length the
// caller chooses (MaxTagLen for a whole tag) by replacing an overlong
// encoding with a readable prefix and a SHA-256 hash of the whole term.
package lvmtag

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MaxTagLen is the longest tag rigplan writes: the limit of older LVM
// releases (NAME_LEN), which also keeps VG metadata small.
const MaxTagLen = 128

// CacheSnapshot tags every snapshot the cache agent's LVM store makes,
// whatever the store's namespace, so that the LVM provider knows it as
// rigplan's cache data and not someone else's volume: a thin pool deleted
// with -allow-data-loss takes its cache snapshots with it.
const CacheSnapshot = "rigplan:cache-snapshot"

// Escape introduces an escaped byte ("&2F") or a hashed term ("&#").
const Escape = '&'

// hashMark follows Escape in a hashed term. '#' is not a hex digit, so no
// output of Encode contains it after an Escape.
const hashMark = '#'

// HashedLen is the length of the hash part of a hashed term: "&#" and 64
// hex digits.
const HashedLen = 2 + sha256.Size*2

// ErrHashed is returned by Decode for a term that EncodeTerm had to hash:
// it cannot be decoded, only compared.
var ErrHashed = errors.New("tag holds a hashed term")

const hexDigits = "0123456789ABCDEF"

// Allowed reports whether b may appear in an LVM tag.
func Allowed(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("_+.:/=!#&-", b) >= 0
}

// Encode returns the tag form of s. The empty string encodes to the empty
// string, which is not a valid tag: callers put a namespace prefix such as
// "rigplan:addr:" in front.
func Encode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if Allowed(c) && c != Escape {
			b.WriteByte(c)
			continue
		}
		b.WriteByte(Escape)
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xF])
	}
	return b.String()
}

// Decode reverses Encode. It fails on a hashed term (ErrHashed), on bytes
// outside the tag alphabet and on any escape Encode would not have written
// (lower-case hex, or an escaped byte that needs no escaping), so that
// Encode(Decode(t)) == t whenever Decode succeeds.
func Decode(t string) (string, error) {
	var b strings.Builder
	b.Grow(len(t))
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !Allowed(c) {
			return "", fmt.Errorf("decode tag %q: byte %q at %d is not allowed in an LVM tag", t, c, i)
		}
		if c != Escape {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(t) && t[i+1] == hashMark {
			return "", fmt.Errorf("decode tag %q: %w", t, ErrHashed)
		}
		if i+2 >= len(t) {
			return "", fmt.Errorf("decode tag %q: escape at %d is cut short", t, i)
		}
		hi, lo := strings.IndexByte(hexDigits, t[i+1]), strings.IndexByte(hexDigits, t[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("decode tag %q: escape at %d is not two upper-case hex digits", t, i)
		}
		v := byte(hi<<4 | lo)
		if Allowed(v) && v != Escape {
			return "", fmt.Errorf("decode tag %q: %q at %d is escaped but needs no escaping", t, v, i)
		}
		b.WriteByte(v)
		i += 2
	}
	return b.String(), nil
}

// EncodeTerm encodes s in at most max bytes. When Encode(s) fits it is the
// result. Otherwise the result is the longest prefix of Encode(s) that
// leaves room for, and does not split an escape before, "&#" and the hex
// SHA-256 of s: readable for an operator, unique per term, and never equal
// to the encoding of another term. max must be at least HashedLen.
func EncodeTerm(s string, max int) string {
	if max < HashedLen {
		panic(fmt.Sprintf("lvmtag: EncodeTerm max %d is below HashedLen %d", max, HashedLen))
	}
	enc := Encode(s)
	if len(enc) <= max {
		return enc
	}
	cut := max - HashedLen
	// Do not split an escape: back off to the '&' that starts it.
	for j := cut - 1; j >= 0 && j >= cut-2; j-- {
		if enc[j] == Escape {
			cut = j
			break
		}
	}
	sum := sha256.Sum256([]byte(s))
	return enc[:cut] + string([]byte{Escape, hashMark}) + strings.ToUpper(hex.EncodeToString(sum[:]))
}

// IsHashed reports whether t is a term EncodeTerm had to hash.
func IsHashed(t string) bool {
	return strings.Contains(t, string([]byte{Escape, hashMark}))
}
