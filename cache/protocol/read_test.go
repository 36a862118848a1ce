package protocol

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// sameRequest compares requests treating nil and empty slices alike: a
// request built in Go may use either.
func sameRequest(a, b *Request) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Command == b.Command && a.Path == b.Path && a.Text == b.Text && a.Name == b.Name && a.DryRun == b.DryRun &&
		slices.Equal(a.Annotations, b.Annotations) &&
		slices.EqualFunc(a.Criteria, b.Criteria, func(x, y []string) bool { return slices.Equal(x, y) })
}

func (r *Request) String() string {
	return fmt.Sprintf("{%s path=%q text=%q name=%q dry-run=%v criteria=%q annotations=%q}", r.Command, r.Path, r.Text, r.Name, r.DryRun, r.Criteria, r.Annotations)
}

func mountReq(path string, criteria [][]string, annotations ...string) *Request {
	return &Request{Command: CommandMount, Path: path, Criteria: criteria, Annotations: annotations}
}

func TestReadRequest(t *testing.T) {
	hash300 := strings.Repeat("0123456789", 30)
	tests := []struct {
		name string
		in   string
		want *Request
	}{
		{"ls", "ls\n", &Request{Command: CommandList}},
		{"stats", "stats\n", &Request{Command: CommandStats}},
		{"runner-config is reserved but parsed", "runner-config\n", &Request{Command: CommandRunnerConfig}},
		{"registration-token", "registration-token\n", &Request{Command: CommandRegistrationToken}},
		{"save", "save /home/runner/cache\n", &Request{Command: CommandSave, Path: "/home/runner/cache"}},
		{"echo keeps inner whitespace", "echo  hello \t world  \n", &Request{Command: CommandEcho, Text: "hello \t world"}},
		{"echo keeps #", "echo #1 done\n", &Request{Command: CommandEcho, Text: "#1 done"}},
		{"echo without text", "echo\n", &Request{Command: CommandEcho}},
		{"mount without criteria", "mount /c\n", mountReq("/c", nil)},
		{
			"criteria in order, annotations add up",
			"mount /c\n> linux abc\n> linux\n< linux\n< abc main\n",
			mountReq("/c", [][]string{{"linux", "abc"}, {"linux"}}, "linux", "abc", "main"),
		},
		{
			"marker without space, runs of spaces and tabs",
			"mount /c\n>linux \t  abc\n<\tlinux\n",
			mountReq("/c", [][]string{{"linux", "abc"}}, "linux"),
		},
		{"empty criterion is kept", "mount /c\n> a\n>\n", mountReq("/c", [][]string{{"a"}, {}})},
		{"empty annotation line adds nothing", "mount /c\n<\n< a\n", mountReq("/c", nil, "a")},
		{
			"indented heredoc, CRLF, trailing blanks",
			"   mount /c  \r\n\t> a b\r\n    < a \r\n",
			mountReq("/c", [][]string{{"a", "b"}}, "a"),
		},
		{
			"comments and leading blank lines",
			"\n  \n# cache for the build\nmount /c\n  # most specific first\n> a\n#> b\n",
			mountReq("/c", [][]string{{"a"}}),
		},
		{
			"ends at the first blank line; blank lines and comments may follow",
			"mount /c\n> a\n\n\n  # done\n\r\n",
			mountReq("/c", [][]string{{"a"}}),
		},
		{"whitespace-only line ends it too", "ls\n \t \n", &Request{Command: CommandList}},
		{
			"any workflow string is a term",
			"mount /c\n> feature/ünïcode-branch C# #123 " + hash300 + " a\u00a0b\n",
			mountReq("/c", [][]string{{"feature/ünïcode-branch", "C#", "#123", hash300, "a\u00a0b"}}),
		},
		{"markers inside terms", "mount /c\n> >a <b\n< >\n", mountReq("/c", [][]string{{">a", "<b"}}, ">")},
		{"tab after command", "mount\t/c\n", mountReq("/c", nil)},
		{"save with annotations", "save /c\n< linux\n< main\n", &Request{Command: CommandSave, Path: "/c", Annotations: []string{"linux", "main"}}},
		{"gc", "gc\n", &Request{Command: CommandGC}},
		{"gc dry-run", "gc  dry-run \n", &Request{Command: CommandGC, DryRun: true}},
		{"rm", "rm cache-20240501-120007-0a1b\n", &Request{Command: CommandRemove, Name: "cache-20240501-120007-0a1b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadRequest(strings.NewReader(tt.in), Limits{})
			if err != nil {
				t.Fatalf("ReadRequest(%q): %v", tt.in, err)
			}
			if !sameRequest(got, tt.want) {
				t.Errorf("ReadRequest(%q)\n got %v\nwant %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestReadRequestErrors(t *testing.T) {
	long := strings.Repeat("x", DefaultMaxTermBytes+1)
	tests := []struct {
		name string
		in   string
		line int
		want []string // substrings of the reason
	}{
		{"unknown command lists known ones", "mnt /c\n", 1, []string{`unknown command "mnt"`, "mount, save, ls, echo, stats, gc, rm, runner-config, registration-token"}},
		{"commands are case-sensitive", "MOUNT /c\n", 1, []string{`unknown command "MOUNT"`}},
		{"mount without path", "mount\n", 1, []string{"mount needs a path", "mount /home/runner/cache"}},
		{"save without path", "save   \n", 1, []string{"save needs a path"}},
		{"relative path", "mount cache\n", 1, []string{`"cache" is relative`, "absolute"}},
		{"dotdot", "mount /home/../etc\n", 1, []string{`climbs with ".."`}},
		{"trailing dotdot", "mount /home/..\n", 1, []string{`climbs with ".."`}},
		{"dot segment", "mount /home/./c\n", 1, []string{`"." segment`, `write "/home/c"`}},
		{"doubled slash", "mount /home//c\n", 1, []string{"not clean", `write "/home/c"`}},
		{"trailing slash", "mount /home/c/\n", 1, []string{"not clean", `write "/home/c"`}},
		{"root", "mount /\n", 1, []string{"whole root"}},
		{"two words", "mount /a /b\n", 1, []string{"one path", `"/b"`}},
		{"criteria on the mount line", "mount /a > linux\n", 1, []string{"one path", "own \"> terms\" lines"}},
		{"path too long", "mount /" + strings.Repeat("a", MaxPathLen) + "\n", 1, []string{"longer than the limit of 4096"}},
		{"NUL in path", "mount /a\x00b\n", 1, []string{"control character U+0000"}},
		{"bell in a term", "mount /a\n> linux\x07\n", 2, []string{"control character U+0007"}},
		{"lone CR", "mount /a\r\r\n", 1, []string{"control character U+000D"}},
		{"C1 control", "mount /a\n< a\u0085b\n", 2, []string{"control character U+0085"}},
		{"invalid UTF-8", "mount /a\n> \xff\xfe\n", 2, []string{"not valid UTF-8"}},
		{"argument to ls", "ls -l\n", 1, []string{"ls takes no argument", `"-l"`, "write just ls"}},
		{"criteria first", "> linux\n", 1, []string{"follow a mount line"}},
		{"annotations first", "< linux\n", 1, []string{"follow a mount line"}},
		{"criteria after ls", "ls\n> linux\n", 2, []string{"belong to a mount request, not to ls"}},
		{"criteria after save", "save /c\n> linux\n", 2, []string{"not to save", "only \"< terms\""}},
		{"stray line after save", "save /c\nlinux\n", 2, []string{`unexpected line "linux"`, "after save"}},
		{"annotations after gc", "gc\n< linux\n", 2, []string{"not to gc"}},
		{"gc with a word other than dry-run", "gc now\n", 1, []string{`gc takes nothing or dry-run`, `"now"`}},
		{"gc dry-run twice", "gc dry-run dry-run\n", 1, []string{`gc takes nothing or dry-run`}},
		{"rm without name", "rm\n", 1, []string{"rm needs a snapshot name"}},
		{"rm two names", "rm a b\n", 1, []string{"one snapshot name", `"b"`}},
		{"rm name too long", "rm " + strings.Repeat("n", MaxNameLen+1) + "\n", 1, []string{"longer than the limit of 255"}},
		{"second command", "mount /a\nmount /b\n", 2, []string{"second command, mount", "one request"}},
		{"stray line after mount", "mount /a\nlinux main\n", 2, []string{`unexpected line "linux main"`, "> terms"}},
		{"stray line after echo", "echo hi\nthere\n", 2, []string{"echo takes no further lines"}},
		{"inline comment", "mount /a\n> linux main   # fallback\n", 2, []string{`term "#" looks like a comment`}},
		{"term too long", "mount /a\n> " + long + "\n", 2, []string{"1025 bytes", "limit of 1024", "…"}},
		{"too many criteria", "mount /a\n" + strings.Repeat("> a\n", DefaultMaxCriteria+1), DefaultMaxCriteria + 2, []string{"more than 32 criteria"}},
		{"too many terms", "mount /a\n>" + strings.Repeat(" a", DefaultMaxTermsPerCriterion+1) + "\n", 2, []string{"criterion: 33 terms", "limit of 32"}},
		{"too many annotations over two lines", "mount /a\n<" + strings.Repeat(" a", 20) + "\n<" + strings.Repeat(" b", 13) + "\n", 3, []string{"annotations: 33 terms"}},
		{"empty", "", 0, []string{"the request is empty", "mount /home/runner/cache"}},
		{"only blank lines", "\n\n  \n", 0, []string{"the request is empty"}},
		{"criteria after a stray blank line", "mount /c\n\n> linux main\n> linux\n", 3, []string{"a blank line ended the mount request on line 2", `"> linux main"`, "remove the blank line"}},
		{"a second request after the blank line", "ls\n\n# next\nls\n", 4, []string{"ended the ls request", `"ls"`}},
		{"only a comment", "# mount /c\n", 0, []string{"the request is empty"}},
		{"cut mid-line", "mount /home/ghrunner/cac", 1, []string{"ends inside this line", `"mount /home/ghrunner/cac"`, "disconnected"}},
		{"cut mid-criterion", "mount /c\n> linux ab", 2, []string{"ends inside this line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ReadRequest(strings.NewReader(tt.in), Limits{})
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("ReadRequest(%q) = %v, %v; want an *Error", tt.in, req, err)
			}
			if perr.Line != tt.line {
				t.Errorf("error on line %d, want %d: %v", perr.Line, tt.line, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(perr.Reason, w) {
					t.Errorf("reason %q lacks %q", perr.Reason, w)
				}
			}
			if tt.line > 0 && !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", tt.line)) {
				t.Errorf("message %q does not start with its line", err.Error())
			}
		})
	}
}

func TestReadRequestLimits(t *testing.T) {
	small := Limits{MaxBytes: 32, MaxTermBytes: 4, MaxCriteria: 1, MaxTermsPerCriterion: 2, MaxAnnotations: 1}
	tests := []struct {
		in   string
		want string // "" for accepted
	}{
		{"mount /c\n> abcd efgh\n< abcd\n", ""},
		{"mount /c\n> abcde\n", "limit of 4"},
		{"mount /c\n> a\n> b\n", "more than 1 criteria"},
		{"mount /c\n> a b c\n", "criterion: 3 terms"},
		{"mount /c\n< a b\n", "annotations: 2 terms"},
		{"mount /c\n# a comment that is long\n", "longer than the limit of 32 bytes"},
		// Exactly at the limit is fine; what follows the blank line is
		// not read and does not count.
		{"mount /c\n> abcd\n< abcd\n#2345678\n", ""},
		{"mount /c\n> abcd\n< abcd\n#23456789\n", "longer than the limit of 32 bytes"},
		{"mount /c\n> abcd\n< abcd\n\n#" + strings.Repeat("x", 100), ""},
	}
	for _, tt := range tests {
		_, err := ReadRequest(strings.NewReader(tt.in), small)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ReadRequest(%q): %v", tt.in, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("ReadRequest(%q) = %v, want an error with %q", tt.in, err, tt.want)
		}
	}
	if d := DefaultLimits(); d.MaxBytes != 64<<10 || d.MaxTermBytes != 1024 || d != (Limits{MaxBytes: -1}).withDefaults() {
		t.Errorf("DefaultLimits() = %+v", d)
	}
}
