package protocol

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
)

// DefaultMaxResponseBytes bounds what ReadResponse reads when the caller
// passes no limit: room for an ls of some ten thousand snapshots.
const DefaultMaxResponseBytes = 16 << 20

// ErrRefused is wrapped by the error Response.Err returns for an error
// line, so a client can tell "the agent said no" from "the agent could not
// be read".
var ErrRefused = errors.New("the cache agent refused the request")

// ErrTruncated is wrapped by ReadResponse's error when the response ends
// before its ok or error line: the agent went away mid-answer, and any data
// lines read so far may be incomplete.
var ErrTruncated = errors.New("the response ended before its ok or error line")

// Record is one data line of a response, such as one snapshot of ls. Tag
// says what the line describes; clients skip tags they do not know, so the
// agent can add new kinds of data lines without breaking old clients.
type Record struct {
	Tag    string
	Fields []string
}

// Response is the agent's whole answer to one request: data lines, then
// exactly one status line. The status line comes last so that a client
// knows it has read everything, and the agent can still fail after
// writing some data.
type Response struct {
	Records []Record
	// Stream, when set, yields further data lines after Records.
	// WriteResponse writes them as they come, through a small buffer, so
	// that an answer as large as the store (ls) costs the agent that
	// buffer, not the whole answer built in memory.
	Stream iter.Seq[Record]
	// OK tells the status line: "ok" with Fields, or "error" with Reason.
	OK     bool
	Fields []string
	Reason string
}

// OK returns a successful response with the given status fields.
func OK(fields ...string) *Response {
	return &Response{OK: true, Fields: fields}
}

// Fail returns a failed response. The reason goes to the user verbatim, so
// it should say what to do, like every *Error's message does.
func Fail(reason string) *Response {
	return &Response{Reason: reason}
}

// Err returns nil for an ok response and, for an error response, an error
// wrapping ErrRefused that carries the agent's reason.
func (r *Response) Err() error {
	if r.OK {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrRefused, r.Reason)
}

// MarshalText writes the response as it goes on the wire. It fails on a
// response that would not read back the same: a tag that is not a
// lower-case word or that is "ok" or "error", an error without a reason,
// or an error with status fields.
func (r *Response) MarshalText() ([]byte, error) {
	var b strings.Builder
	if err := r.write(&b); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// write writes the response's lines to w, the status line last.
func (r *Response) write(w lineWriter) error {
	if err := r.checkStatus(); err != nil {
		return err
	}
	records := slices.Values(r.Records)
	if r.Stream != nil {
		records = concat(records, r.Stream)
	}
	for rec := range records {
		if err := checkTag(rec.Tag); err != nil {
			return fmt.Errorf("marshal response: %w", err)
		}
		writeLine(w, rec.Tag, rec.Fields)
	}
	if r.OK {
		writeLine(w, "ok", r.Fields)
	} else {
		writeLine(w, "error", []string{r.Reason})
	}
	return nil
}

func concat(a, b iter.Seq[Record]) iter.Seq[Record] {
	return func(yield func(Record) bool) {
		for rec := range a {
			if !yield(rec) {
				return
			}
		}
		for rec := range b {
			if !yield(rec) {
				return
			}
		}
	}
}

// checkStatus refuses a status that would not read back the same.
func (r *Response) checkStatus() error {
	switch {
	case r.OK && r.Reason != "":
		return fmt.Errorf("marshal response: an ok response carries a reason %q; ok has fields, error has a reason", r.Reason)
	case !r.OK && r.Reason == "":
		return errors.New("marshal response: an error response needs a reason")
	case !r.OK && len(r.Fields) > 0:
		return fmt.Errorf("marshal response: an error response carries fields %q; put what the user needs into the reason", r.Fields)
	}
	return nil
}

// streamBuffer is the buffer a streamed response goes out through.
const streamBuffer = 32 << 10

// WriteResponse writes resp to w. A response without a Stream goes out
// in a single Write, so that it is never interleaved with other output
// on the same writer; a streamed one in writes of streamBuffer bytes.
func WriteResponse(w io.Writer, resp *Response) error {
	if resp.Stream == nil {
		text, err := resp.MarshalText()
		if err != nil {
			return err
		}
		if _, err := w.Write(text); err != nil {
			return fmt.Errorf("write response: %w", err)
		}
		return nil
	}
	bw := bufio.NewWriterSize(w, streamBuffer)
	if err := resp.write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write response: %w", err)
	}
	return nil
}

// lineWriter is what responses are written to: a strings.Builder or a
// bufio.Writer (whose write errors stick until Flush reports them).
type lineWriter interface {
	WriteString(string) (int, error)
	WriteByte(byte) error
}

func writeLine(b lineWriter, word string, fields []string) {
	b.WriteString(word)
	for _, f := range fields {
		b.WriteByte('\t')
		b.WriteString(EscapeField(f))
	}
	b.WriteByte('\n')
}

// checkTag accepts a lower-case word ([a-z][a-z0-9-]*) other than the
// status words, so that a data line can never be mistaken for the end.
func checkTag(tag string) error {
	if tag == "ok" || tag == "error" {
		return fmt.Errorf("data line tag %q is a status word", tag)
	}
	if tag == "" {
		return errors.New("data line tag is empty")
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !('a' <= c && c <= 'z' || i > 0 && ('0' <= c && c <= '9' || c == '-')) {
			return fmt.Errorf("data line tag %q is not a lower-case word ([a-z][a-z0-9-]*)", tag)
		}
	}
	return nil
}

// ReadResponse reads one response: data lines up to and including the
// status line, and nothing after it. It reads at most maxBytes (zero or
// less means DefaultMaxResponseBytes). Like ReadRequest it does not bound
// time; set a deadline on the connection.
//
// An error line is a successful read: check Response.Err.
func ReadResponse(r io.Reader, maxBytes int) (*Response, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxResponseBytes
	}
	br := bufio.NewReader(io.LimitReader(r, int64(maxBytes)+1))
	resp := &Response{}
	read := 0
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		read += len(line)
		if read > maxBytes {
			return nil, fmt.Errorf("read response: longer than the limit of %d bytes", maxBytes)
		}
		if err == io.EOF {
			return nil, fmt.Errorf("read response: %w (after %d data lines)", ErrTruncated, len(resp.Records))
		}
		if err != nil {
			return nil, fmt.Errorf("read response: %w", err)
		}
		word, fields, err := parseLine(strings.TrimSuffix(line, "\n"))
		if err != nil {
			return nil, fmt.Errorf("read response line %d: %w", n, err)
		}
		switch word {
		case "ok":
			resp.OK, resp.Fields = true, fields
			return resp, nil
		case "error":
			if len(fields) != 1 || fields[0] == "" {
				return nil, fmt.Errorf("read response line %d: an error line has one non-empty reason, got %d fields", n, len(fields))
			}
			resp.Reason = fields[0]
			return resp, nil
		}
		if err := checkTag(word); err != nil {
			return nil, fmt.Errorf("read response line %d: %w", n, err)
		}
		resp.Records = append(resp.Records, Record{Tag: word, Fields: fields})
	}
}

// parseLine splits a line into its leading word and unescaped fields.
func parseLine(line string) (string, []string, error) {
	word, rest, more := strings.Cut(line, "\t")
	if !more {
		return word, nil, nil
	}
	parts := strings.Split(rest, "\t")
	fields := make([]string, len(parts))
	for i, p := range parts {
		f, err := UnescapeField(p)
		if err != nil {
			return "", nil, err
		}
		fields[i] = f
	}
	return word, fields, nil
}
