package protocol

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// EscapeField returns s in the form a response field takes on the wire.
//
// A field must never break its line or its neighbours: an error reason may
// quote lvcreate's multi-line stderr, and a snapshot annotation may hold any
// workflow string. So the backslash, tab, newline and carriage return are
// written as \\ \t \n \r; every other C0 control byte, DEL and any byte that
// is not valid UTF-8 as \xHH; and the C1 controls and U+2028/U+2029 as
// \uHHHH, because some line readers (Python's str.splitlines, for one)
// treat them as line breaks too. Everything else is kept as it is, so
// ordinary reasons and terms stay readable in a job log.
//
// Each string has exactly one escaped form: UnescapeField refuses anything
// EscapeField would not have written.
func EscapeField(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case isLineBreakingRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// UnescapeField reverses EscapeField. It fails on an unknown or cut-short
// escape and on any text EscapeField would not have produced (a raw tab, an
// escape that needs no escaping, upper-case hex), so that a decoded
// response always re-encodes to the very bytes it came from.
func UnescapeField(f string) (string, error) {
	if !strings.ContainsRune(f, '\\') {
		if needsEscape(f) {
			return "", fmt.Errorf("field %q holds a character that must be escaped", f)
		}
		return f, nil
	}
	var b strings.Builder
	b.Grow(len(f))
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(f) {
			return "", fmt.Errorf("field %q ends in a lone backslash", f)
		}
		i++
		switch f[i] {
		case '\\':
			b.WriteByte('\\')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'x':
			v, err := parseHex(f, i+1, 2)
			if err != nil {
				return "", err
			}
			b.WriteByte(byte(v))
			i += 2
		case 'u':
			v, err := parseHex(f, i+1, 4)
			if err != nil {
				return "", err
			}
			b.WriteRune(rune(v))
			i += 4
		default:
			return "", fmt.Errorf("field %q holds the unknown escape \\%c", f, f[i])
		}
	}
	s := b.String()
	if EscapeField(s) != f {
		return "", fmt.Errorf("field %q is not escaped the way the agent writes fields (want %q)", f, EscapeField(s))
	}
	return s, nil
}

// parseHex reads n lower-case hex digits of f starting at i.
func parseHex(f string, i, n int) (uint64, error) {
	if i+n > len(f) {
		return 0, fmt.Errorf("field %q has an escape cut short", f)
	}
	digits := f[i : i+n]
	if strings.ToLower(digits) != digits {
		return 0, fmt.Errorf("field %q has upper-case hex in an escape", f)
	}
	v, err := strconv.ParseUint(digits, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("field %q has an escape with bad hex %q: %w", f, digits, err)
	}
	return v, nil
}

// needsEscape reports whether EscapeField would change s.
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '\\' {
			return true
		}
		if c >= 0x80 {
			// Rare in practice; fall back to the rune-wise check.
			return needsEscapeRunes(s[i:])
		}
	}
	return false
}

func needsEscapeRunes(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r < 0x20 || r == 0x7f || r == '\\' || isLineBreakingRune(r) {
			return true
		}
		i += size
	}
	return false
}

// isLineBreakingRune reports the non-ASCII runes some readers split lines
// at: the C1 controls (NEL among them) and the Unicode line and paragraph
// separators.
func isLineBreakingRune(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029
}
