package protocol

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests drive ReadRequest over connections the way the agent will:
// the package opens no sockets, but its promises (answer a client that keeps
// its write side open, turn a deadline into a reason, stop at the size
// limit) only matter on a connection.

func TestReadRequestAnswersClientThatKeepsWriting(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	go func() {
		// net.Pipe writes block until read: if ReadRequest read past the
		// blank line, it would wait for this second write and time out.
		_, _ = client.Write([]byte("mount /c\n> a\n\n"))
		_, _ = client.Write([]byte("more that nobody reads\n"))
	}()
	if err := server.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRequest(server, Limits{})
	if err != nil {
		t.Fatalf("ReadRequest: %v", err)
	}
	if want := mountReq("/c", [][]string{{"a"}}); !sameRequest(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestReadRequestDeadline(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	go func() {
		// Half a request, then silence: a client that never finishes.
		_, _ = client.Write([]byte("mount /c\n> lin"))
	}()
	if err := server.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := ReadRequest(server, Limits{})
	var perr *Error
	if !errors.As(err, &perr) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadRequest = %v, want an *Error wrapping os.ErrDeadlineExceeded", err)
	}
	if !strings.Contains(perr.Reason, "not finished in time") || !strings.Contains(perr.Reason, "empty line") {
		t.Errorf("reason %q does not say what happened and what to do", perr.Reason)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("ReadRequest took %v past a 100ms deadline", d)
	}
}

// failingReader yields data, then fails with err.
type failingReader struct {
	data string
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadRequestConnectionReset(t *testing.T) {
	_, err := ReadRequest(&failingReader{data: "mount /c\n> a", err: syscall.ECONNRESET}, Limits{})
	var perr *Error
	if !errors.As(err, &perr) || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("ReadRequest = %v, want an *Error wrapping ECONNRESET", err)
	}
	if perr.Line != 2 || !strings.Contains(perr.Reason, "reading the request failed after 12 bytes") {
		t.Errorf("got line %d reason %q", perr.Line, perr.Reason)
	}
}

// endless is a client that sends comment lines forever.
type endless struct{ read int }

func (e *endless) Read(p []byte) (int, error) {
	line := "# and on and on\n"
	n := 0
	for n+len(line) <= len(p) {
		n += copy(p[n:], line)
	}
	if n == 0 {
		n = copy(p, line)
	}
	e.read += n
	return n, nil
}

func TestReadRequestStopsAtSizeLimit(t *testing.T) {
	src := &endless{}
	_, err := ReadRequest(io.MultiReader(strings.NewReader("ls\n"), src), Limits{MaxBytes: 1000})
	if err == nil || !strings.Contains(err.Error(), "longer than the limit of 1000 bytes") {
		t.Fatalf("ReadRequest = %v, want the size limit", err)
	}
	if src.read > 1000 {
		t.Errorf("read %d bytes from an endless client, limit 1000", src.read)
	}
}
