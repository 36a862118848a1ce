package protocol

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ReadRequest reads one request from r and checks it.
//
// It reads at most limits.MaxBytes and stops at the empty line that ends a
// request, or at EOF; it never reads past the end of the request's last
// line, so a client that keeps its write side open is still answered.
//
// ReadRequest does not bound time: a client that never finishes its
// request would block it forever. The caller sets a read deadline on the
// connection first (net.Conn.SetReadDeadline; not SetDeadline, whose write
// half would also stop the error line from going out); when it passes, the
// read fails with os.ErrDeadlineExceeded and ReadRequest returns an *Error
// that says so and wraps it.
//
// Every failure is an *Error whose message is fit to send back on the
// error line.
func ReadRequest(r io.Reader, limits Limits) (*Request, error) {
	limits = limits.withDefaults()
	lr := &lineReader{
		br:  bufio.NewReader(io.LimitReader(r, int64(limits.MaxBytes)+1)),
		max: limits.MaxBytes,
	}
	p := parser{limits: limits}
	for {
		line, eof, err := lr.next()
		if err != nil {
			return nil, err
		}
		if eof {
			break
		}
		done, err := p.line(lr.line, line)
		if err != nil {
			return nil, err
		}
		if done {
			if err := lr.checkRest(p.req.Command); err != nil {
				return nil, err
			}
			break
		}
	}
	if p.req == nil {
		return nil, &Error{Reason: "the request is empty; " + knownCommandsHint()}
	}
	return p.req, nil
}

// lineReader hands out the request's lines and enforces the size limit.
type lineReader struct {
	br   *bufio.Reader
	read int // bytes of the request read so far
	max  int
	line int // number of the last line returned
}

// next returns the next line without its line ending ("\n" or "\r\n"),
// or eof at a clean end of input.
func (lr *lineReader) next() (line string, eof bool, err error) {
	s, err := lr.br.ReadString('\n')
	lr.read += len(s)
	if lr.read > lr.max {
		return "", false, &Error{Line: lr.line + 1, Reason: fmt.Sprintf(
			"the request is longer than the limit of %d bytes; send fewer or shorter criteria and annotations", lr.max)}
	}
	switch {
	case err == nil:
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "", false, &Error{Err: err, Reason: "the request was not finished in time; " +
			"end it with an empty line, or by closing the connection's write side (ncat -U does when its input ends)"}
	case err == io.EOF && s == "":
		return "", true, nil
	case err == io.EOF:
		// A request that stops mid-line is most likely cut short by a
		// client that went away; acting on half a path or half a
		// criterion could mount the wrong thing.
		return "", false, &Error{Line: lr.line + 1, Reason: fmt.Sprintf(
			"the request ends inside this line (%s), without a newline; the client disconnected early, or the last line lacks its newline", quoteShort(s))}
	default:
		return "", false, &Error{Line: lr.line + 1, Err: err, Reason: fmt.Sprintf(
			"reading the request failed after %d bytes: %v", lr.read, err)}
	}
	lr.line++
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r"), false, nil
}

// checkRest refuses a request whose ending blank line is followed by
// more of it: criteria after a stray blank line would otherwise be
// dropped without a word, and the job would get the default volume
// instead of its cache. It looks only at what has already arrived (a
// heredoc arrives in one write), never waiting for more.
func (lr *lineReader) checkRest(cmd Command) error {
	rest, _ := lr.br.Peek(lr.br.Buffered())
	for n, line := range strings.Split(string(rest), "\n") {
		text := strings.Trim(line, " \t\r")
		if text == "" || text[0] == '#' {
			continue
		}
		return &Error{Line: lr.line + 1 + n, Reason: fmt.Sprintf(
			"a blank line ended the %s request on line %d, but %s follows it; an empty line ends a request, so nothing after it would be read: remove the blank line",
			cmd, lr.line, quoteShort(text))}
	}
	return nil
}

// parser builds a Request from lines.
type parser struct {
	limits Limits
	req    *Request // nil until the command line
}

// line takes line n; done reports that it ended the request.
func (p *parser) line(n int, raw string) (done bool, err error) {
	fail := func(reason string) (bool, error) { return false, &Error{Line: n, Reason: reason} }
	if reason := checkText("the line", raw); reason != "" {
		return fail(reason)
	}
	// Leading whitespace is allowed because heredocs in YAML and shell
	// scripts are often indented; trailing whitespace is invisible.
	text := strings.Trim(raw, " \t")
	switch {
	case text == "":
		// Blank lines before the command are skipped, so a heredoc may
		// start with one; after it, a blank line ends the request.
		return p.req != nil, nil
	case text[0] == '#':
		return false, nil
	case p.req == nil:
		req, reason := p.command(text)
		if reason != "" {
			return fail(reason)
		}
		p.req = req
		return false, nil
	}
	return false, p.follow(n, text)
}

// command parses the request's first line.
func (p *parser) command(text string) (*Request, string) {
	word, rest := cutWord(text)
	if word[0] == '>' || word[0] == '<' {
		return nil, "criteria (>) and annotations (<) follow a mount line; start the request with mount PATH"
	}
	cmd := Command(word)
	arg, ok := cmd.argument()
	if !ok {
		return nil, unknownCommandReason(word)
	}
	req := &Request{Command: cmd}
	switch arg {
	case argNone:
		if rest != "" {
			return nil, fmt.Sprintf("%s takes no argument, but the line goes on with %s; write just %s", cmd, quoteShort(rest), cmd)
		}
	case argPath:
		if rest == "" {
			return nil, missingPathReason(cmd)
		}
		if first, more := cutWord(rest); more != "" {
			return nil, fmt.Sprintf("%s takes one path, but the line goes on after %s with %s; paths cannot contain spaces, and criteria go on their own \"> terms\" lines",
				cmd, quoteShort(first), quoteShort(more))
		}
		if reason := checkPath(rest); reason != "" {
			return nil, reason
		}
		req.Path = rest
	case argText:
		req.Text = rest
	case argDryRun:
		switch rest {
		case "":
		case DryRunWord:
			req.DryRun = true
		default:
			return nil, fmt.Sprintf("%s takes nothing or %s, but the line goes on with %s; write %s or %s %s", cmd, DryRunWord, quoteShort(rest), cmd, cmd, DryRunWord)
		}
	case argName:
		if rest == "" {
			return nil, missingNameReason(cmd)
		}
		if first, more := cutWord(rest); more != "" {
			return nil, fmt.Sprintf("%s takes one snapshot name, but the line goes on after %s with %s; remove one snapshot per request", cmd, quoteShort(first), quoteShort(more))
		}
		if reason := checkName(rest); reason != "" {
			return nil, reason
		}
		req.Name = rest
	}
	return req, ""
}

// follow parses a line after the command line.
func (p *parser) follow(n int, text string) error {
	fail := func(reason string) error { return &Error{Line: n, Reason: reason} }
	req := p.req
	marker := text[0]
	if marker != '>' && marker != '<' {
		word, _ := cutWord(text)
		if _, known := Command(word).argument(); known {
			return fail(fmt.Sprintf("a second command, %s, after %s; a connection carries one request with one command, so open a new connection for it", word, req.Command))
		}
		if req.Command == CommandMount {
			return fail(fmt.Sprintf("unexpected line %s; after mount, each line is \"> terms\" (a criterion) or \"< terms\" (annotations)", quoteShort(text)))
		}
		if req.Command == CommandSave {
			return fail(fmt.Sprintf("unexpected line %s; after save, each line is \"< terms\" (annotations for the copy)", quoteShort(text)))
		}
		return fail(fmt.Sprintf("unexpected line %s; %s takes no further lines, so end the request here", quoteShort(text), req.Command))
	}
	if marker == '>' && req.Command != CommandMount || !req.Command.takesAnnotations() {
		return fail(onlyAfterMountReason(req.Command))
	}
	terms := splitTerms(text[1:])
	if marker == '>' {
		if len(req.Criteria) == p.limits.MaxCriteria {
			return fail(tooManyCriteriaReason(p.limits))
		}
		if reason := checkCount("criterion", len(terms), p.limits.MaxTermsPerCriterion); reason != "" {
			return fail(reason)
		}
		if reason := checkTerms(terms, p.limits); reason != "" {
			return fail(reason)
		}
		req.Criteria = append(req.Criteria, terms)
		return nil
	}
	if reason := checkCount("annotations", len(req.Annotations)+len(terms), p.limits.MaxAnnotations); reason != "" {
		return fail(reason)
	}
	if reason := checkTerms(terms, p.limits); reason != "" {
		return fail(reason)
	}
	req.Annotations = append(req.Annotations, terms...)
	return nil
}

// cutWord splits text at its first run of spaces or tabs.
func cutWord(text string) (word, rest string) {
	i := strings.IndexAny(text, " \t")
	if i < 0 {
		return text, ""
	}
	return text[:i], strings.TrimLeft(text[i:], " \t")
}

// splitTerms splits at runs of spaces and tabs only: other Unicode spaces
// are part of a term, as they are of a branch name.
func splitTerms(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
}

func knownCommandsHint() string {
	return "start it with a command, such as mount /home/runner/cache (" + strings.Join(commandNames(), ", ") + ")"
}
