package protocol

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The default limits. A real request is a few hundred bytes: a path, a
// handful of criteria of a few terms each, and one annotation line. The
// limits leave a wide margin above that while keeping what one connection
// can make the agent hold, and how many LVM tags a snapshot gets, small.
const (
	DefaultMaxBytes             = 64 << 10
	DefaultMaxTermBytes         = 1024
	DefaultMaxCriteria          = 32
	DefaultMaxTermsPerCriterion = 32
	DefaultMaxAnnotations       = 32
)

// Limits bound what ReadRequest accepts. A zero or negative field means
// its default, so Limits{} is the defaults and a caller can change one
// field alone.
type Limits struct {
	// MaxBytes bounds the whole request as read, newlines, comments and
	// indentation included. Bytes after the empty line that ends a request
	// are not read and do not count.
	MaxBytes int
	// MaxTermBytes bounds one term. It can be far above LVM's tag length,
	// since the store hashes overlong terms (internal/lvmtag.EncodeTerm).
	MaxTermBytes int
	// MaxCriteria bounds the number of "> terms" lines.
	MaxCriteria int
	// MaxTermsPerCriterion bounds the terms of one "> terms" line.
	MaxTermsPerCriterion int
	// MaxAnnotations bounds the terms of all "< terms" lines together,
	// since each becomes a tag on the new snapshot.
	MaxAnnotations int
}

// DefaultLimits returns the limits the agent uses unless configured
// otherwise.
func DefaultLimits() Limits {
	return Limits{}.withDefaults()
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxBytes, DefaultMaxBytes)
	def(&l.MaxTermBytes, DefaultMaxTermBytes)
	def(&l.MaxCriteria, DefaultMaxCriteria)
	def(&l.MaxTermsPerCriterion, DefaultMaxTermsPerCriterion)
	def(&l.MaxAnnotations, DefaultMaxAnnotations)
	return l
}

// Error is a request the agent refuses. Its message is written for the
// person who wrote the request, since the agent sends it back verbatim as
// the reason on its error line: it says what is wrong, on which line, and
// what to write instead.
type Error struct {
	// Line is the 1-based line the problem is on, or 0 when it concerns
	// the request as a whole (its size, a timeout, a missing command).
	Line int
	// Reason says what is wrong and what to write instead.
	Reason string
	// Err is the underlying cause when reading failed (a deadline, a
	// reset connection), for errors.Is; nil for a malformed request.
	Err error
}

// Error returns the reason, prefixed with its line number when it has one.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return e.Reason
}

// Unwrap returns the underlying read error, so that a caller can tell a
// timeout (os.ErrDeadlineExceeded) from a malformed request.
func (e *Error) Unwrap() error { return e.Err }

// MaxPathLen is the longest mount path a request may name: Linux's
// PATH_MAX. The agent resolves the path inside the machine's root, so a
// longer one could never work.
const MaxPathLen = 4096

// The checks below return a reason for the user, or "" when all is well.
// The parser and Request.Validate share them, so a request built in Go
// fails for the same reason as the same request sent by ncat.

// checkText refuses what a request line may not hold: bytes that are not
// UTF-8 and control characters other than tab. Such bytes are never part
// of a sensible term or path, and letting them through would let a
// request smuggle line breaks into logs and LVM tags.
func checkText(what, s string) string {
	if !utf8.ValidString(s) {
		return fmt.Sprintf("%s %s is not valid UTF-8; requests are UTF-8 text", what, quoteShort(s))
	}
	for i, r := range s {
		if r != '\t' && unicode.IsControl(r) {
			return fmt.Sprintf("%s holds the control character %U at byte %d; requests are plain text lines without control characters", what, r, i)
		}
	}
	return ""
}

// checkPath refuses a mount path that is not absolute and clean. The agent
// still checks it against the machine's allowed prefixes and resolves it
// without following symlinks; this early check gives a clear reason for
// the common mistakes and keeps ".." tricks out of everything later.
func checkPath(p string) string {
	if reason := checkText("path", p); reason != "" {
		return reason
	}
	if len(p) > MaxPathLen {
		return fmt.Sprintf("path %s is %d bytes, longer than the limit of %d; use a shorter path", quoteShort(p), len(p), MaxPathLen)
	}
	if strings.ContainsAny(p, " \t") {
		return fmt.Sprintf("path %q contains whitespace; mount paths are one word, such as /home/runner/cache", p)
	}
	if !strings.HasPrefix(p, "/") {
		return fmt.Sprintf("path %q is relative; write an absolute path inside the machine, such as /home/runner/cache", p)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." {
			return fmt.Sprintf("path %q climbs with \"..\"; write the directory it means without \"..\"", p)
		}
		if seg == "." {
			return fmt.Sprintf("path %q contains a \".\" segment; write %q", p, path.Clean(p))
		}
	}
	if path.Clean(p) != p {
		return fmt.Sprintf("path %q is not clean (doubled or trailing slash); write %q", p, path.Clean(p))
	}
	if p == "/" {
		return "path / would cover the machine's whole root; name a directory such as /home/runner/cache"
	}
	return ""
}

// checkCount bounds the terms of one criterion or of the annotations.
func checkCount(what string, n, max int) string {
	if n > max {
		return fmt.Sprintf("%s: %d terms, more than the limit of %d; keep the terms that tell caches apart", what, n, max)
	}
	return ""
}

// checkTerms checks each term of a list.
func checkTerms(terms []string, limits Limits) string {
	for _, t := range terms {
		if reason := checkTerm(t, limits); reason != "" {
			return reason
		}
	}
	return ""
}

// checkTerm checks one term. Any workflow string is welcome (branch names
// with "/", unicode, long hashes): the store encodes terms into the LVM tag
// alphabet and hashes overlong ones, so the limit here only bounds memory.
func checkTerm(t string, limits Limits) string {
	if t == "" {
		return "a term is empty; terms are separated by spaces or tabs and cannot be empty"
	}
	if reason := checkText("term", t); reason != "" {
		return reason
	}
	if strings.ContainsAny(t, " \t") {
		return fmt.Sprintf("term %q contains whitespace; spaces and tabs separate terms, so write it as separate terms", t)
	}
	if len(t) > limits.MaxTermBytes {
		return fmt.Sprintf("term %s is %d bytes, longer than the limit of %d; use a shorter term, such as a hash of it", quoteShort(t), len(t), limits.MaxTermBytes)
	}
	if t == "#" {
		// "> linux main  # fallback" would otherwise quietly ask for the
		// terms "#" and "fallback", and never match.
		return "term \"#\" looks like a comment; comments are whole lines whose first character is #, so move it to its own line"
	}
	return ""
}

func unknownCommandReason(word string) string {
	return fmt.Sprintf("unknown command %s; a request starts with one of: %s", quoteShort(word), strings.Join(commandNames(), ", "))
}

func commandNames() []string {
	names := make([]string, 0, 8)
	for _, c := range Commands() {
		names = append(names, string(c))
	}
	return names
}

func missingPathReason(c Command) string {
	return fmt.Sprintf("%s needs a path: write %s /home/runner/cache", c, c)
}

func onlyAfterMountReason(c Command) string {
	if c == CommandSave {
		return "criteria (>) belong to a mount request, not to save; a save takes only \"< terms\" annotations for its copy"
	}
	return fmt.Sprintf("criteria (>) and annotations (<) belong to a mount request, not to %s; send one command per connection", c)
}

func missingNameReason(c Command) string {
	return fmt.Sprintf("%s needs a snapshot name: write %s NAME, with a name that ls lists", c, c)
}

// checkName refuses a snapshot name rm could never mean: not one word of
// text, or too long. The store checks it further.
func checkName(n string) string {
	if reason := checkText("snapshot name", n); reason != "" {
		return reason
	}
	if strings.ContainsAny(n, " \t") {
		return fmt.Sprintf("snapshot name %q contains whitespace; write one name that ls lists", n)
	}
	if len(n) > MaxNameLen {
		return fmt.Sprintf("snapshot name %s is %d bytes, longer than the limit of %d; write a name that ls lists", quoteShort(n), len(n), MaxNameLen)
	}
	return ""
}

func tooManyCriteriaReason(limits Limits) string {
	return fmt.Sprintf("more than %d criteria (> lines); keep the most useful ones, the rest would rarely be reached", limits.MaxCriteria)
}

// quoteShort quotes s for a reason, cut to its first 40 runes: a reason
// that repeats a 64 KiB line helps nobody.
func quoteShort(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return strconv.Quote(s)
	}
	runes := []rune(s)
	return strconv.Quote(string(runes[:max])) + "…"
}
