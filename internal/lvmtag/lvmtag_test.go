package lvmtag

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEncode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"volume.default", "volume.default"},
		{`volume.caches["x"]`, "volume.caches&5B&22x&22&5D"},
		{"feature/login", "feature/login"},
		{"a&b", "a&26b"},
		{"a b,c", "a&20b&2Cc"},
		{"ünï", "&C3&BCn&C3&AF"},
		{"x:/=!#-_+.", "x:/=!#-_+."},
		{"\x00\xff", "&00&FF"},
		{"", ""},
	}
	for _, tt := range tests {
		got := Encode(tt.in)
		if got != tt.want {
			t.Errorf("Encode(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for i := 0; i < len(got); i++ {
			if !Allowed(got[i]) {
				t.Errorf("Encode(%q) = %q holds %q, outside the LVM tag alphabet", tt.in, got, got[i])
			}
		}
		back, err := Decode(got)
		if err != nil || back != tt.in {
			t.Errorf("Decode(%q) = %q, %v; want %q", got, back, err, tt.in)
		}
	}
}

func TestDecodeRejectsNonCanonical(t *testing.T) {
	for _, in := range []string{
		"a&2", "a&", "&zz", "&2f", // cut short, not hex, lower-case hex
		"&41",   // 'A' needs no escaping
		"a b",   // space is not in the alphabet
		"x&#AB", // hashed
	} {
		if got, err := Decode(in); err == nil {
			t.Errorf("Decode(%q) = %q, want an error", in, got)
		}
	}
	if _, err := Decode("x&#AB"); !errors.Is(err, ErrHashed) {
		t.Errorf("Decode of a hashed term: %v, want ErrHashed", err)
	}
}

func TestEncodeTerm(t *testing.T) {
	short := "linux"
	if got := EncodeTerm(short, MaxTagLen); got != short {
		t.Errorf("EncodeTerm(%q) = %q", short, got)
	}
	long := strings.Repeat("ä/", 150) // 300 runes, 900 encoded bytes
	got := EncodeTerm(long, MaxTagLen)
	if len(got) > MaxTagLen {
		t.Fatalf("EncodeTerm gave %d bytes, max %d", len(got), MaxTagLen)
	}
	if !IsHashed(got) || IsHashed(Encode(long)) {
		t.Errorf("IsHashed wrong for %q", got)
	}
	if _, err := Decode(got); !errors.Is(err, ErrHashed) {
		t.Errorf("Decode(hashed) = %v", err)
	}
	if !strings.HasPrefix(got, "&C3&A4/") {
		t.Errorf("hashed term %q lost its readable prefix", got)
	}
	// The prefix never ends inside an escape.
	prefix := got[:strings.Index(got, "&#")]
	if _, err := Decode(prefix); err != nil {
		t.Errorf("prefix %q of a hashed term does not decode: %v", prefix, err)
	}
	// Deterministic, and distinct for terms that share the prefix.
	if EncodeTerm(long, MaxTagLen) != got {
		t.Error("EncodeTerm is not deterministic")
	}
	if EncodeTerm(long+"x", MaxTagLen) == got {
		t.Error("two long terms with the same prefix encode alike")
	}
	hash := strings.Repeat("0123456789abcdef", 19) // a 300-char hash
	if got := EncodeTerm(hash, 100); len(got) != 100 || !IsHashed(got) {
		t.Errorf("EncodeTerm(300-char hash, 100) = %q (%d bytes)", got, len(got))
	}
}

func TestEncodeTermPanicsBelowHashedLen(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for max < HashedLen")
		}
	}()
	EncodeTerm("x", HashedLen-1)
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "volume.caches[\"x\"]", "feature/ü", "&&", "&#", strings.Repeat("z", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := Encode(s)
		for i := 0; i < len(enc); i++ {
			if !Allowed(enc[i]) {
				t.Fatalf("Encode(%q) = %q holds a disallowed byte", s, enc)
			}
		}
		if IsHashed(enc) {
			t.Fatalf("Encode(%q) = %q looks hashed", s, enc)
		}
		dec, err := Decode(enc)
		if err != nil || dec != s {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", s, dec, err)
		}
		// Any string Decode accepts is canonical.
		if d, err := Decode(s); err == nil && Encode(d) != s {
			t.Fatalf("Decode(%q) = %q but Encode gives %q", s, d, Encode(d))
		}
		term := EncodeTerm(s, MaxTagLen)
		if len(term) > MaxTagLen {
			t.Fatalf("EncodeTerm(%q) is %d bytes", s, len(term))
		}
		if len(enc) <= MaxTagLen && term != enc {
			t.Fatalf("EncodeTerm(%q) = %q, want %q", s, term, enc)
		}
		if len(enc) > MaxTagLen && (!IsHashed(term) || !utf8.ValidString(term)) {
			t.Fatalf("EncodeTerm(%q) = %q is not a hashed term", s, term)
		}
	})
}
