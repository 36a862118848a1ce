package protocol

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// fuzzLimits are small enough that the fuzzer reaches every limit.
var fuzzLimits = Limits{MaxBytes: 512, MaxTermBytes: 40, MaxCriteria: 4, MaxTermsPerCriterion: 4, MaxAnnotations: 6}

// FuzzReadRequest checks that no input panics ReadRequest, that every
// refusal is an *Error whose message travels on an error line, and that
// every accepted request re-encodes canonically and reads back the same.
func FuzzReadRequest(f *testing.F) {
	for _, seed := range []string{
		"mount /home/ghrunner/cache\n> linux dc5e8c\n> linux\n< linux dc5e8c\n",
		"  mount /c\r\n\t>a  b\r\n>\n< x\n<\n\nrest",
		"# comment\n\nls\n",
		"echo  a \t b \n",
		"save /a/../b\n",
		"mount /c\n> \xff\n",
		"mount /c\n> linux # note\n",
		"mount /c\n> a\u0085\n",
		"stats\n> a\n",
		"save /c\n< a b\n",
		"gc dry-run\n",
		"rm cache-1\n",
		"mount /c",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ReadRequest(bytes.NewReader(data), fuzzLimits)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) || perr.Reason == "" {
				t.Fatalf("ReadRequest(%q) = %v, want an *Error with a reason", data, err)
			}
			wire, merr := Fail(err.Error()).MarshalText()
			if merr != nil || bytes.Count(wire, []byte("\n")) != 1 {
				t.Fatalf("error line for %q: %q, %v", err, wire, merr)
			}
			return
		}
		if err := req.Validate(fuzzLimits); err != nil {
			t.Fatalf("ReadRequest(%q) accepted %v, which Validate refuses: %v", data, req, err)
		}
		text, err := req.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText(%v) of accepted %q: %v", req, data, err)
		}
		back, err := ReadRequest(bytes.NewReader(text), fuzzLimits)
		if err != nil || !sameRequest(back, req) {
			t.Fatalf("%q read as %v, re-encoded as %q, read back as %v, %v", data, req, text, back, err)
		}
		again, _ := back.MarshalText()
		if !bytes.Equal(again, text) {
			t.Fatalf("MarshalText is not canonical: %q then %q", text, again)
		}
	})
}

// FuzzResponseRoundTrip checks that any response the agent can build is
// written as lines that cannot be confused and reads back the same.
func FuzzResponseRoundTrip(f *testing.F) {
	f.Add(true, "snapshot", "rigplan-1", "a\tb\nc", "")
	f.Add(false, "stat", "", "\\x41", "lvcreate failed:\n  no space\r\n")
	f.Add(true, "x", "\u0085\u2028", "\xff", "")
	f.Add(false, "ok", "a", "b", "error\tline")
	f.Fuzz(func(t *testing.T, ok bool, tag, a, b, reason string) {
		resp := &Response{OK: ok, Records: []Record{{Tag: tag, Fields: []string{a, b}}, {Tag: TagStat}}}
		if ok {
			resp.Fields = []string{b, a, ""}
		} else {
			resp.Reason = reason
		}
		wire, err := resp.MarshalText()
		if err != nil {
			// Only responses the agent must not build are refused.
			if checkTag(tag) == nil && (ok || reason != "") {
				t.Fatalf("MarshalText(%+v): %v", resp, err)
			}
			return
		}
		lines := strings.Split(strings.TrimSuffix(string(wire), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("%+v written as %d lines: %q", resp, len(lines), wire)
		}
		for _, line := range lines {
			if strings.ContainsAny(line, "\r\u0085\u2028\u2029") {
				t.Fatalf("line %q holds a line break", line)
			}
		}
		if status := strings.SplitN(lines[2], "\t", 2)[0]; status != map[bool]string{true: "ok", false: "error"}[ok] {
			t.Fatalf("status line %q for ok=%v", lines[2], ok)
		}
		got, err := ReadResponse(strings.NewReader(string(wire)), 0)
		if err != nil || !sameResponse(got, resp) {
			t.Fatalf("%+v written as %q read back as %+v, %v", resp, wire, got, err)
		}
	})
}

// FuzzReadResponse checks that ReadResponse never panics and accepts only
// canonical text: what it accepts re-encodes to the very bytes it read.
func FuzzReadResponse(f *testing.F) {
	for _, seed := range []string{
		"ok\n", "ok\t\n", "error\tx\\ny\n", "snapshot\tn\t2024-05-01T12:00:07Z\tsealed\t-\ta b\nok\n",
		"stat\tk\tv\nerror\tno\n", "ok\t\\x41\n", "ok\ta\rb\n", "OK\n", "ok", "x-1\nok\textra\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := ReadResponse(bytes.NewReader(data), 1024)
		if err != nil {
			return
		}
		wire, err := resp.MarshalText()
		if err != nil {
			t.Fatalf("ReadResponse(%q) accepted %+v, which MarshalText refuses: %v", data, resp, err)
		}
		if !bytes.HasPrefix(data, wire) {
			t.Fatalf("ReadResponse(%q) accepted %+v, which is written %q", data, resp, wire)
		}
	})
}
