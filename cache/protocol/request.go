package protocol

import (
	"fmt"
	"strings"
)

// Command names the one thing a request asks of the agent. Its values are
// the words that start a request.
type Command string

// The commands a request may start with. Like http.MethodGet, they are
// constants so that a misspelt command is a compile error in Go code.
const (
	CommandMount Command = "mount"
	CommandSave  Command = "save"
	CommandList  Command = "ls"
	CommandEcho  Command = "echo"
	CommandStats Command = "stats"
	// CommandGC and CommandRemove are the host operator's: the agent
	// accepts them only from root on the host, never from a machine.
	CommandGC     Command = "gc"
	CommandRemove Command = "rm"
	// CommandRunnerConfig and CommandRegistrationToken give a machine its
	// runner's identity, from the runner block that lists it; the
	// credentials stay with the agent (DESIGN.md, "GitHub runners without
	// secrets").
	CommandRunnerConfig      Command = "runner-config"
	CommandRegistrationToken Command = "registration-token"
)

// Commands returns every command in the order the reference lists them;
// error reasons quote it so that a user sees what to write instead.
func Commands() []Command {
	return []Command{CommandMount, CommandSave, CommandList, CommandEcho, CommandStats,
		CommandGC, CommandRemove, CommandRunnerConfig, CommandRegistrationToken}
}

// argument is what follows a command word on its line.
type argument int

const (
	argNone   argument = iota // nothing
	argPath                   // one absolute, clean path
	argText                   // the rest of the line, verbatim
	argDryRun                 // nothing, or the word dry-run
	argName                   // one snapshot name
)

// DryRunWord is the one argument gc takes: list what would go, delete
// nothing.
const DryRunWord = "dry-run"

// MaxNameLen bounds the snapshot name rm takes. The agent checks the name
// against its store's own rules; this only keeps a request small.
const MaxNameLen = 255

// argument reports what c takes after its word, and whether c is known.
func (c Command) argument() (argument, bool) {
	switch c {
	case CommandMount, CommandSave:
		return argPath, true
	case CommandEcho:
		return argText, true
	case CommandList, CommandStats, CommandRunnerConfig, CommandRegistrationToken:
		return argNone, true
	case CommandGC:
		return argDryRun, true
	case CommandRemove:
		return argName, true
	}
	return argNone, false
}

// Request is one parsed request. A connection carries exactly one.
type Request struct {
	Command Command
	// Path is where, inside the machine, mount puts the cache and which
	// mount save seals. Set for mount and save only.
	Path string
	// Text is what echo answers with. Set for echo only.
	Text string
	// Criteria are the "> terms" lines of a mount, in the order they are
	// tried. One criterion matches a snapshot that carries all its terms;
	// an empty criterion (">" alone) matches any sealed snapshot.
	Criteria [][]string
	// Annotations are the terms of all "< terms" lines of a mount or a
	// save, in the order written, to be put on the new snapshot. A save
	// without them gives its copy the saved snapshot's annotations.
	Annotations []string
	// Name is the snapshot rm deletes. Set for rm only.
	Name string
	// DryRun asks gc to list what it would delete, and delete nothing.
	DryRun bool
}

// takesAnnotations reports whether "< terms" lines may follow c's line.
func (c Command) takesAnnotations() bool { return c == CommandMount || c == CommandSave }

// Validate reports the first thing that keeps r from being sent: anything
// ReadRequest would refuse, except the size of the whole request (which
// depends on how it is spelt: comments, indentation). The error is an
// *Error without a line number.
func (r *Request) Validate(limits Limits) error {
	limits = limits.withDefaults()
	arg, ok := r.Command.argument()
	if !ok {
		return &Error{Reason: unknownCommandReason(string(r.Command))}
	}
	switch arg {
	case argPath:
		if r.Path == "" {
			return &Error{Reason: missingPathReason(r.Command)}
		}
		if reason := checkPath(r.Path); reason != "" {
			return &Error{Reason: reason}
		}
	case argText:
		if reason := checkText("echo text", r.Text); reason != "" {
			return &Error{Reason: reason}
		}
		if strings.Trim(r.Text, " \t") != r.Text {
			return &Error{Reason: fmt.Sprintf("echo text %q starts or ends with whitespace, which the line format drops; trim it", r.Text)}
		}
	case argName:
		if r.Name == "" {
			return &Error{Reason: missingNameReason(r.Command)}
		}
		if reason := checkName(r.Name); reason != "" {
			return &Error{Reason: reason}
		}
	}
	if arg != argName && r.Name != "" {
		return &Error{Reason: fmt.Sprintf("%s takes no snapshot name, but the request has %q", r.Command, r.Name)}
	}
	if arg != argDryRun && r.DryRun {
		return &Error{Reason: fmt.Sprintf("%s takes no %s", r.Command, DryRunWord)}
	}
	if arg != argPath && r.Path != "" {
		return &Error{Reason: fmt.Sprintf("%s takes no path, but the request has %q", r.Command, r.Path)}
	}
	if arg != argText && r.Text != "" {
		return &Error{Reason: fmt.Sprintf("%s takes no text, but the request has %q", r.Command, r.Text)}
	}
	if r.Command != CommandMount && len(r.Criteria) > 0 {
		return &Error{Reason: onlyAfterMountReason(r.Command)}
	}
	if !r.Command.takesAnnotations() && len(r.Annotations) > 0 {
		return &Error{Reason: onlyAfterMountReason(r.Command)}
	}
	if len(r.Criteria) > limits.MaxCriteria {
		return &Error{Reason: tooManyCriteriaReason(limits)}
	}
	for _, c := range r.Criteria {
		if reason := checkCount("criterion", len(c), limits.MaxTermsPerCriterion); reason != "" {
			return &Error{Reason: reason}
		}
		if reason := checkTerms(c, limits); reason != "" {
			return &Error{Reason: reason}
		}
	}
	if reason := checkCount("annotations", len(r.Annotations), limits.MaxAnnotations); reason != "" {
		return &Error{Reason: reason}
	}
	if reason := checkTerms(r.Annotations, limits); reason != "" {
		return &Error{Reason: reason}
	}
	return nil
}

// MarshalText writes r as a request that ReadRequest reads back to the same
// value: one line per criterion, all annotations on one "<" line, and an
// empty line at the end, so that the agent answers even when the client
// keeps its write side open. It fails on what Validate refuses under
// DefaultLimits.
func (r *Request) MarshalText() ([]byte, error) {
	if err := r.Validate(DefaultLimits()); err != nil {
		return nil, fmt.Errorf("marshal %s request: %w", r.Command, err)
	}
	var b strings.Builder
	b.WriteString(string(r.Command))
	switch arg, _ := r.Command.argument(); arg {
	case argPath:
		b.WriteString(" " + r.Path)
	case argText:
		if r.Text != "" {
			b.WriteString(" " + r.Text)
		}
	case argDryRun:
		if r.DryRun {
			b.WriteString(" " + DryRunWord)
		}
	case argName:
		b.WriteString(" " + r.Name)
	}
	b.WriteByte('\n')
	for _, c := range r.Criteria {
		b.WriteString(">")
		writeTerms(&b, c)
	}
	if len(r.Annotations) > 0 {
		b.WriteString("<")
		writeTerms(&b, r.Annotations)
	}
	b.WriteByte('\n')
	return []byte(b.String()), nil
}

// writeTerms writes " term" for each term and ends the line.
func writeTerms(b *strings.Builder, terms []string) {
	for _, t := range terms {
		b.WriteByte(' ')
		b.WriteString(t)
	}
	b.WriteByte('\n')
}

// CriterionText is how a response and a log line show a criterion: the
// way a request writes it, "> linux main". Keeping the marker keeps a
// criterion of the single term "default" apart from the default volume,
// and shows an empty criterion as ">".
func CriterionText(terms []string) string {
	if len(terms) == 0 {
		return ">"
	}
	return "> " + strings.Join(terms, " ")
}
