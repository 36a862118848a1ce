package protocol

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests send requests with the real ncat, through the real shell,
// as a workflow step does, to a listener that answers with this package the
// way the agent will. They prove that the original heredocs work unchanged,
// that ncat's end of input ends a request, and that ncat prints the answer.

const ncatSocket = "/run/lvm-cache-friend/socket"

// served is what the test listener saw.
type served struct {
	req      *Request
	err      error
	answered time.Time
}

// listen serves one connection on a fresh unix socket: read a request under
// a deadline, answer with handle's response or the error line, close.
func listen(t *testing.T, deadline time.Duration, handle func(*Request) *Response) (string, <-chan served) {
	t.Helper()
	if _, err := exec.LookPath("ncat"); err != nil {
		t.Skip("ncat is not installed (Debian package ncat)")
	}
	// Unix socket paths are short (108 bytes); t.TempDir can be longer.
	dir, err := os.MkdirTemp("", "rp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan served, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- served{err: err}
			return
		}
		defer conn.Close()
		// A read deadline only: the answer to a timed-out request must
		// still go out.
		_ = conn.SetReadDeadline(time.Now().Add(deadline))
		req, err := ReadRequest(conn, Limits{})
		resp := Fail("")
		if err != nil {
			resp.Reason = err.Error()
		} else {
			resp = handle(req)
		}
		if werr := WriteResponse(conn, resp); werr != nil && err == nil {
			err = werr
		}
		done <- served{req: req, err: err, answered: time.Now()}
	}()
	return sock, done
}

// runShell runs script with sh and returns what it printed.
func runShell(t *testing.T, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("sh -c %q: %v\n%s", script, err, out)
	}
	return string(out)
}

// mountAnswer answers a mount the way the agent would, matching the first
// criterion.
func mountAnswer(req *Request) *Response {
	if len(req.Criteria) == 0 {
		return MountResult{Path: req.Path, Default: true, Snapshot: "rigplan-1"}.Response()
	}
	return MountResult{Path: req.Path, Criterion: req.Criteria[0], Snapshot: "rigplan-1"}.Response()
}

func TestNcatBlogRequests(t *testing.T) {
	t.Parallel()
	for _, ex := range blogExamples(t) {
		t.Run(ex.name, func(t *testing.T) {
			sock, done := listen(t, 10*time.Second, mountAnswer)
			out := runShell(t, strings.ReplaceAll(ex.script, ncatSocket, sock))
			got := <-done
			if got.err != nil {
				t.Fatalf("agent side: %v", got.err)
			}
			if !sameRequest(got.req, ex.want) {
				t.Errorf("agent read %v, want %v", got.req, ex.want)
			}
			want := "ok\t/home/ghrunner/cache\t" + CriterionText(ex.want.Criteria[0]) + "\trigplan-1\n"
			if out != want {
				t.Errorf("ncat printed %q, want %q", out, want)
			}
			resp, err := ReadResponse(strings.NewReader(out), 0)
			if err != nil {
				t.Fatal(err)
			}
			if m, err := ParseMountResult(resp); err != nil || m.Path != "/home/ghrunner/cache" {
				t.Errorf("ParseMountResult = %+v, %v", m, err)
			}
		})
	}
}

func TestNcatBadRequestGetsReason(t *testing.T) {
	t.Parallel()
	sock, done := listen(t, 10*time.Second, mountAnswer)
	out := runShell(t, "ncat -U "+sock+" <<EOF\nmount home/ghrunner/cache\n> linux\nEOF\n")
	<-done
	want := "error\tline 1: path \"home/ghrunner/cache\" is relative; write an absolute path inside the machine, such as /home/runner/cache\n"
	if out != want {
		t.Errorf("ncat printed %q, want %q", out, want)
	}
}

// TestNcatEmptyLineEndsRequest keeps ncat's input open after the request:
// the empty line alone must make the agent answer.
func TestNcatEmptyLineEndsRequest(t *testing.T) {
	t.Parallel()
	sock, done := listen(t, 10*time.Second, func(r *Request) *Response { return OK(r.Text) })
	start := time.Now()
	out := runShell(t, "{ printf 'echo first\\n\\n'; sleep 3; } | ncat -U "+sock)
	got := <-done
	if got.err != nil || out != "ok\tfirst\n" {
		t.Errorf("ncat printed %q, agent error %v", out, got.err)
	}
	if d := got.answered.Sub(start); d > 2*time.Second {
		t.Errorf("answer came after %v; the agent waited for EOF instead of the empty line", d)
	}
}

func TestNcatSlowClientTimesOut(t *testing.T) {
	t.Parallel()
	sock, done := listen(t, 200*time.Millisecond, mountAnswer)
	out := runShell(t, "{ printf 'mount /c\\n> lin'; sleep 1; } | ncat -U "+sock)
	got := <-done
	if got.err == nil || !strings.HasPrefix(out, "error\tthe request was not finished in time;") {
		t.Errorf("ncat printed %q, agent error %v", out, got.err)
	}
}
