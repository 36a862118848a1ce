package protocol

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestMarshalText(t *testing.T) {
	tests := []struct {
		req  *Request
		want string
	}{
		{&Request{Command: CommandList}, "ls\n\n"},
		{&Request{Command: CommandEcho}, "echo\n\n"},
		{&Request{Command: CommandEcho, Text: "a \tb"}, "echo a \tb\n\n"},
		{&Request{Command: CommandSave, Path: "/c"}, "save /c\n\n"},
		{&Request{Command: CommandSave, Path: "/c", Annotations: []string{"a", "b"}}, "save /c\n< a b\n\n"},
		{&Request{Command: CommandGC}, "gc\n\n"},
		{&Request{Command: CommandGC, DryRun: true}, "gc dry-run\n\n"},
		{&Request{Command: CommandRemove, Name: "cache-1"}, "rm cache-1\n\n"},
		{
			mountReq("/home/runner/cache", [][]string{{"linux", "feature/ü"}, {}, {"linux"}}, "linux", "feature/ü"),
			"mount /home/runner/cache\n> linux feature/ü\n>\n> linux\n< linux feature/ü\n\n",
		},
	}
	for _, tt := range tests {
		got, err := tt.req.MarshalText()
		if err != nil {
			t.Errorf("MarshalText(%v): %v", tt.req, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("MarshalText(%v) = %q, want %q", tt.req, got, tt.want)
		}
		back, err := ReadRequest(strings.NewReader(string(got)), Limits{})
		if err != nil || !sameRequest(back, tt.req) {
			t.Errorf("ReadRequest(%q) = %v, %v; want %v", got, back, err, tt.req)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		req  *Request
		want string
	}{
		{&Request{Command: "mnt"}, `unknown command "mnt"`},
		{&Request{Command: CommandMount}, "mount needs a path"},
		{&Request{Command: CommandMount, Path: "c"}, "relative"},
		{&Request{Command: CommandMount, Path: "/a b"}, "contains whitespace"},
		{&Request{Command: CommandList, Path: "/c"}, "ls takes no path"},
		{&Request{Command: CommandMount, Path: "/c", Text: "x"}, "mount takes no text"},
		{&Request{Command: CommandEcho, Text: " x"}, "starts or ends with whitespace"},
		{&Request{Command: CommandEcho, Text: "a\nb"}, "control character U+000A"},
		{&Request{Command: CommandList, Criteria: [][]string{{"a"}}}, "not to ls"},
		{&Request{Command: CommandSave, Path: "/c", Criteria: [][]string{{"a"}}}, "not to save"},
		{&Request{Command: CommandList, Annotations: []string{"a"}}, "not to ls"},
		{&Request{Command: CommandRemove}, "rm needs a snapshot name"},
		{&Request{Command: CommandRemove, Name: "a b"}, "contains whitespace"},
		{&Request{Command: CommandList, Name: "a"}, "ls takes no snapshot name"},
		{&Request{Command: CommandList, DryRun: true}, "ls takes no dry-run"},
		{mountReq("/c", [][]string{{"a b"}}), `term "a b" contains whitespace`},
		{mountReq("/c", [][]string{{""}}), "a term is empty"},
		{mountReq("/c", nil, "a\tb"), "contains whitespace"},
		{mountReq("/c", nil, "#"), "looks like a comment"},
		{mountReq("/c", nil, strings.Repeat("x", 1025)), "limit of 1024"},
		{mountReq("/c", make([][]string, 33)), "more than 32 criteria"},
		{mountReq("/c", nil, make([]string, 33)...), "annotations: 33 terms"},
	}
	for _, tt := range tests {
		err := tt.req.Validate(Limits{})
		var perr *Error
		if !errors.As(err, &perr) || perr.Line != 0 || !strings.Contains(perr.Reason, tt.want) {
			t.Errorf("Validate(%v) = %v, want an *Error without line with %q", tt.req, err, tt.want)
		}
		if _, err := tt.req.MarshalText(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("MarshalText(%v) = %v, want the same refusal", tt.req, err)
		}
	}
}

func TestCriterionText(t *testing.T) {
	for _, tt := range []struct {
		terms []string
		want  string
	}{
		{nil, ">"},
		{[]string{"default"}, "> default"},
		{[]string{"linux", "feature/ü"}, "> linux feature/ü"},
	} {
		if got := CriterionText(tt.terms); got != tt.want {
			t.Errorf("CriterionText(%q) = %q, want %q", tt.terms, got, tt.want)
		}
	}
}

// termRunes are what random terms are made of: LVM's tag alphabet, the
// markers, '#', unicode and a non-breaking space, which is not a separator.
var termRunes = []rune("ab09_+.:/=!#&-<>éü\u00a0日")

func randomTerm(rng *rand.Rand) string {
	n := 1 + rng.IntN(12)
	var b strings.Builder
	for range n {
		b.WriteRune(termRunes[rng.IntN(len(termRunes))])
	}
	if b.String() == "#" {
		return "##"
	}
	return b.String()
}

func randomTerms(rng *rand.Rand, max int) []string {
	terms := make([]string, rng.IntN(max+1))
	for i := range terms {
		terms[i] = randomTerm(rng)
	}
	return terms
}

func randomRequest(rng *rand.Rand) *Request {
	switch rng.IntN(7) {
	case 0:
		return &Request{Command: CommandList}
	case 4:
		return &Request{Command: CommandGC, DryRun: rng.IntN(2) == 0}
	case 5:
		return &Request{Command: CommandRemove, Name: "n" + randomTerm(rng)}
	case 6:
		return &Request{Command: CommandSave, Path: "/x", Annotations: randomTerms(rng, 4)}
	case 1:
		return &Request{Command: CommandEcho, Text: strings.Trim(randomTerm(rng)+" \t"+randomTerm(rng), " \t")}
	case 2:
		return &Request{Command: CommandSave, Path: "/x" + strings.ReplaceAll(randomTerm(rng), "/", "_")}
	}
	req := &Request{Command: CommandMount, Path: "/home/runner/cache"}
	for range rng.IntN(5) {
		req.Criteria = append(req.Criteria, randomTerms(rng, 4))
	}
	req.Annotations = randomTerms(rng, 6)
	return req
}

// respell writes req the way people do: indented, with CRLF, comments,
// markers without a space, tabs, annotations spread over several lines.
func respell(rng *rand.Rand, req *Request) string {
	canon, _ := req.MarshalText()
	lines := strings.Split(strings.TrimSuffix(string(canon), "\n\n"), "\n")
	var b strings.Builder
	if rng.IntN(2) == 0 {
		b.WriteString("\n  # a leading comment\n")
	}
	indent := []string{"", "  ", "\t", "    "}[rng.IntN(4)]
	eol := []string{"\n", "\r\n"}[rng.IntN(2)]
	for _, line := range lines {
		if rng.IntN(3) == 0 {
			b.WriteString(indent + "# note" + eol)
		}
		if line[0] == '<' && rng.IntN(2) == 0 {
			// Split the annotations over one line per term.
			for _, t := range splitTerms(line[1:]) {
				b.WriteString(indent + "<" + t + " " + eol)
			}
			continue
		}
		if line[0] == '>' || line[0] == '<' {
			sep := []string{" ", "\t", "  ", ""}[rng.IntN(4)]
			line = line[:1] + sep + strings.Join(splitTerms(line[1:]), sep+" ")
		}
		b.WriteString(indent + line + " " + eol)
	}
	if rng.IntN(2) == 0 {
		b.WriteString(eol + indent + "# after the end" + eol + eol)
	}
	return b.String()
}

// TestRoundTripProperty checks, over many random requests, that the
// canonical text reads back to the same request, and so does any spelling
// of it a person might write.
func TestRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		req := randomRequest(rng)
		canon, err := req.MarshalText()
		if err != nil {
			t.Fatalf("#%d MarshalText(%v): %v", i, req, err)
		}
		back, err := ReadRequest(strings.NewReader(string(canon)), Limits{})
		if err != nil || !sameRequest(back, req) {
			t.Fatalf("#%d ReadRequest(%q) = %v, %v; want %v", i, canon, back, err, req)
		}
		text := respell(rng, req)
		back, err = ReadRequest(strings.NewReader(text), Limits{})
		if err != nil || !sameRequest(back, req) {
			t.Fatalf("#%d ReadRequest(%q) = %v, %v; want %v", i, text, back, err, req)
		}
	}
}
