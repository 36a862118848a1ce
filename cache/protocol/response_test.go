package protocol

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

func sameResponse(a, b *Response) bool {
	return a.OK == b.OK && a.Reason == b.Reason && slices.Equal(a.Fields, b.Fields) &&
		slices.EqualFunc(a.Records, b.Records, func(x, y Record) bool {
			return x.Tag == y.Tag && slices.Equal(x.Fields, y.Fields)
		})
}

func TestEscapeField(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"/home/runner/cache", "/home/runner/cache"},
		{"> linux feature/ünïcode", "> linux feature/ünïcode"},
		{"a\tb\nc\r\\d", `a\tb\nc\r\\d`},
		{"\x00\x1b[31m\x7f", `\x00\x1b[31m\x7f`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{"nel\u0085 ls\u2028 ps\u2029", `nel\u0085 ls\u2028 ps\u2029`},
		{`C:\x41`, `C:\\x41`},
	}
	for _, tt := range tests {
		got := EscapeField(tt.in)
		if got != tt.want {
			t.Errorf("EscapeField(%q) = %q, want %q", tt.in, got, tt.want)
		}
		back, err := UnescapeField(got)
		if err != nil || back != tt.in {
			t.Errorf("UnescapeField(%q) = %q, %v; want %q", got, back, err, tt.in)
		}
	}
}

func TestUnescapeFieldRejectsNonCanonical(t *testing.T) {
	for _, in := range []string{
		"a\tb",     // raw tab
		"a\nb",     // raw newline
		"\x01",     // raw control
		"\u0085",   // raw NEL
		"\xff",     // raw invalid UTF-8
		`a\`,       // lone backslash
		`\q`,       // unknown escape
		`\x4`,      // cut short
		`\x41`,     // 'A' needs no escape
		`\x0A`,     // upper-case hex, and \n has its own escape
		`\x0a`,     // \n has its own escape
		`\u00e9`,   // 'é' needs no escape
		`\u008G`,   // bad hex
		`\xc3\xa9`, // valid UTF-8 spelt as bytes
	} {
		if got, err := UnescapeField(in); err == nil {
			t.Errorf("UnescapeField(%q) = %q, want an error", in, got)
		}
	}
}

func TestResponseWire(t *testing.T) {
	tests := []struct {
		name string
		resp *Response
		wire string
	}{
		{"bare ok", OK(), "ok\n"},
		{"echo", OK("hello \t world"), "ok\thello \\t world\n"},
		{"echo of nothing", OK(""), "ok\t\n"},
		{"mount", MountResult{Path: "/c", Criterion: []string{"linux", "main"}, Snapshot: "s1"}.Response(), "ok\t/c\t> linux main\ts1\n"},
		{"error with newlines", Fail("lvcreate failed:\n  Insufficient free space\tin pool"), "error\tlvcreate failed:\\n  Insufficient free space\\tin pool\n"},
		{
			"data then status",
			&Response{OK: true, Records: []Record{{Tag: "stat", Fields: []string{"snapshots", "3"}}, {Tag: "x-new", Fields: nil}}},
			"stat\tsnapshots\t3\nx-new\nok\n",
		},
		{"data then error", &Response{Reason: "pool is full", Records: []Record{{Tag: "stat", Fields: []string{"k", "v"}}}}, "stat\tk\tv\nerror\tpool is full\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := WriteResponse(&b, tt.resp); err != nil {
				t.Fatalf("WriteResponse: %v", err)
			}
			if b.String() != tt.wire {
				t.Errorf("wire %q, want %q", b.String(), tt.wire)
			}
			got, err := ReadResponse(strings.NewReader(tt.wire+"anything after the status line"), 0)
			if err != nil {
				t.Fatalf("ReadResponse(%q): %v", tt.wire, err)
			}
			if !sameResponse(got, tt.resp) {
				t.Errorf("ReadResponse(%q) = %+v, want %+v", tt.wire, got, tt.resp)
			}
		})
	}
}

func TestMarshalResponseRefuses(t *testing.T) {
	for _, tt := range []struct {
		resp *Response
		want string
	}{
		{Fail(""), "needs a reason"},
		{&Response{Fields: []string{"x"}, Reason: "r"}, "carries fields"},
		{&Response{OK: true, Reason: "r"}, "carries a reason"},
		{&Response{OK: true, Records: []Record{{Tag: "ok"}}}, "status word"},
		{&Response{OK: true, Records: []Record{{Tag: "error"}}}, "status word"},
		{&Response{OK: true, Records: []Record{{Tag: ""}}}, "empty"},
		{&Response{OK: true, Records: []Record{{Tag: "Snap"}}}, "lower-case word"},
		{&Response{OK: true, Records: []Record{{Tag: "9x"}}}, "lower-case word"},
		{&Response{OK: true, Records: []Record{{Tag: "a b"}}}, "lower-case word"},
	} {
		if _, err := tt.resp.MarshalText(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("MarshalText(%+v) = %v, want an error with %q", tt.resp, err, tt.want)
		}
	}
}

func TestReadResponseErrors(t *testing.T) {
	tests := []struct {
		wire string
		want string
	}{
		{"", "ended before its ok or error line"},
		{"stat\tk\tv\n", "ended before its ok or error line (after 1 data lines)"},
		{"ok\t/c", "ended before"}, // cut mid-line: never a half path
		{"error\n", "one non-empty reason"},
		{"error\t\n", "one non-empty reason"},
		{"error\ta\tb\n", "one non-empty reason"},
		{"ok\r\n", "not a lower-case word"},
		{"ok\ta\rb\n", "must be escaped"},
		{"ok\t\\q\n", "unknown escape"},
		{"OK\n", "not a lower-case word"},
		{"\n", "data line tag is empty"},
		{strings.Repeat("stat\tk\tv\n", 20) + "ok\n", "longer than the limit of 100 bytes"},
	}
	for _, tt := range tests {
		got, err := ReadResponse(strings.NewReader(tt.wire), 100)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadResponse(%q) = %+v, %v; want an error with %q", tt.wire, got, err, tt.want)
		}
	}
	if _, err := ReadResponse(strings.NewReader("ok\t/c"), 0); !errors.Is(err, ErrTruncated) {
		t.Errorf("a cut response gives %v, want ErrTruncated", err)
	}
}

func TestResponseErr(t *testing.T) {
	if err := OK("x").Err(); err != nil {
		t.Errorf("OK().Err() = %v", err)
	}
	err := Fail("line 2: term too long").Err()
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "line 2: term too long") {
		t.Errorf("Fail().Err() = %v, want ErrRefused with the reason", err)
	}
}

// TestRequestErrorsTravel checks that every reason ReadRequest gives fits
// on an error line and reaches the client intact.
func TestRequestErrorsTravel(t *testing.T) {
	for _, in := range []string{"mnt\n", "mount /a\x00\n", "mount /a\n> \xff\n", "mount /c", ""} {
		_, err := ReadRequest(strings.NewReader(in), Limits{})
		if err == nil {
			t.Fatalf("ReadRequest(%q) accepted", in)
		}
		wire, merr := Fail(err.Error()).MarshalText()
		if merr != nil || strings.Count(string(wire), "\n") != 1 {
			t.Fatalf("error line for %v: %q, %v", err, wire, merr)
		}
		got, rerr := ReadResponse(strings.NewReader(string(wire)), 0)
		if rerr != nil || got.Reason != err.Error() {
			t.Errorf("reason %q arrived as %+v, %v", err.Error(), got, rerr)
		}
	}
}

// A streamed response reads back as the same response built whole, and
// goes out in bounded writes however large it is.
func TestStreamedResponse(t *testing.T) {
	var recs []Record
	for i := range 5000 {
		recs = append(recs, Record{Tag: "snapshot", Fields: []string{fmt.Sprint("snap-", i), strings.Repeat("x", 100), "tab\there"}})
	}
	whole, err := (&Response{Records: recs[:1], OK: true, Fields: []string{"done"}, Stream: slices.Values(recs[1:])}).MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var w countingWriter
	if err := WriteResponse(&w, &Response{Records: recs[:1], OK: true, Fields: []string{"done"}, Stream: slices.Values(recs[1:])}); err != nil {
		t.Fatal(err)
	}
	if w.String() != string(whole) {
		t.Error("the streamed response differs from the whole one")
	}
	if w.largest > streamBuffer || w.writes < 10 {
		t.Errorf("%d writes, the largest %d bytes; want writes of at most %d", w.writes, w.largest, streamBuffer)
	}
	back, err := ReadResponse(strings.NewReader(w.String()), 0)
	if err != nil || len(back.Records) != len(recs) || back.Records[4999].Fields[2] != "tab\there" || !back.OK {
		t.Errorf("read back: %d records, %v", len(back.Records), err)
	}
	if err := WriteResponse(io.Discard, &Response{Stream: slices.Values(recs)}); err == nil {
		t.Error("an error response without a reason was written")
	}
}

type countingWriter struct {
	strings.Builder
	writes, largest int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	w.largest = max(w.largest, len(p))
	return w.Builder.Write(p)
}
