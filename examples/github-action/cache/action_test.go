package action_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/cache/protocol"
)

// These tests run the action's script the way its step does (sh, with
// the inputs in the environment), through the real ncat, against a unix
// socket that reads requests and answers the way the cache agent does.
// cache/agent's TestCompositeAction runs it against the real agent in a
// real machine.

// fakeAgent serves every connection on a fresh unix socket: it reads
// the request to its end (the client closes its side), keeps its bytes,
// and writes answer.
type fakeAgent struct {
	sock     string
	requests chan []byte
}

func newFakeAgent(t *testing.T, answer string) *fakeAgent {
	t.Helper()
	// Unix socket paths are short (108 bytes); t.TempDir can be longer.
	dir, err := os.MkdirTemp("", "rpa")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &fakeAgent{sock: filepath.Join(dir, "socket"), requests: make(chan []byte, 8)}
	ln, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			raw, err := io.ReadAll(conn)
			if err != nil {
				t.Errorf("fake agent: reading the request: %v", err)
			}
			// Kept before the answer goes out: the script exits once it
			// has the answer.
			f.requests <- raw
			conn.Write([]byte(answer))
			conn.Close()
		}
	}()
	return f
}

// request returns the one request the agent got, failing t if there was
// none or more than one.
func (f *fakeAgent) request(t *testing.T) []byte {
	t.Helper()
	select {
	case raw := <-f.requests:
		select {
		case more := <-f.requests:
			t.Fatalf("a second request: %q", more)
		default:
		}
		return raw
	default:
		t.Fatal("the agent got no request")
		return nil
	}
}

// run runs cache.sh with sh and env (besides PATH) and returns its
// standard output and error, its exit status, and the outputs it wrote
// to GITHUB_OUTPUT.
func run(t *testing.T, env map[string]string) (stdout, stderr string, code int, outputs map[string]string) {
	return runWith(t, "sh", env)
}

// runWith is run with another shell.
func runWith(t *testing.T, shell string, env map[string]string) (stdout, stderr string, code int, outputs map[string]string) {
	t.Helper()
	for _, tool := range []string{"ncat", shell} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	out := filepath.Join(t.TempDir(), "github_output")
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, shell, "-e", "cache.sh")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GITHUB_OUTPUT=" + out, "LC_ALL=C"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	outputs = map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			outputs[k] = v
		}
	}
	return o.String(), e.String(), code, outputs
}

// A pull request from feature/login into main, in a repository whose
// default branch is main; the key and restore keys written with the
// stray spaces and blank lines YAML invites.
func pullRequest(sock string) map[string]string {
	return map[string]string{
		"CACHE_SOCKET":         sock,
		"CACHE_PATH":           "/home/runner/cache",
		"CACHE_KEY":            " npm  linux\t5f3a ",
		"CACHE_RESTORE_KEYS":   "npm linux\n\n   npm  \n",
		"CACHE_DEFAULT_BRANCH": "main",
		"GITHUB_HEAD_REF":      "feature/login",
		"GITHUB_BASE_REF":      "main",
		"GITHUB_REF_NAME":      "12/merge",
	}
}

const prRequest = `mount /home/runner/cache
> npm linux 5f3a branch:feature/login
> npm linux branch:feature/login
> npm branch:feature/login
> npm linux 5f3a branch:main
> npm linux branch:main
> npm branch:main
< npm linux 5f3a branch:feature/login
`

// TestMount sends the request the inputs stand for and reports the
// agent's ok answer in the step's outputs, with sh (dash on Debian, as
// the action's step runs it) and with bash (sh on other distributions).
func TestMount(t *testing.T) {
	for _, shell := range []string{"sh", "bash"} {
		t.Run(shell, func(t *testing.T) { testMount(t, shell) })
	}
}

func testMount(t *testing.T, shell string) {
	for _, tc := range []struct {
		name    string
		env     func(sock string) map[string]string
		request string
		answer  string
		outputs map[string]string
	}{{
		name:    "exact key from the target branch",
		env:     pullRequest,
		request: prRequest,
		answer:  "ok\t/home/runner/cache\t> npm linux 5f3a branch:main\tcache-1\n",
		outputs: map[string]string{"cache-hit": "true", "matched": "> npm linux 5f3a branch:main", "snapshot": "cache-1"},
	}, {
		name:    "restore key",
		env:     pullRequest,
		request: prRequest,
		answer:  "ok\t/home/runner/cache\t> npm linux branch:feature/login\tcache-2\n",
		outputs: map[string]string{"cache-hit": "false", "matched": "> npm linux branch:feature/login", "snapshot": "cache-2"},
	}, {
		name:    "default volume",
		env:     pullRequest,
		request: prRequest,
		answer:  "ok\t/home/runner/cache\tdefault\tcache-3\n",
		outputs: map[string]string{"cache-hit": "false", "matched": "default", "snapshot": "cache-3"},
	}, {
		name: "push to the default branch",
		env: func(sock string) map[string]string {
			return map[string]string{"CACHE_SOCKET": sock, "CACHE_PATH": "/home/runner/cache", "CACHE_KEY": "cargo 9d1e",
				"CACHE_RESTORE_KEYS": "cargo", "CACHE_DEFAULT_BRANCH": "main", "GITHUB_REF_NAME": "main"}
		},
		request: "mount /home/runner/cache\n> cargo 9d1e branch:main\n> cargo branch:main\n< cargo 9d1e branch:main\n",
		answer:  "ok\t/home/runner/cache\t> cargo 9d1e branch:main\tcache-4\n",
		outputs: map[string]string{"cache-hit": "true", "matched": "> cargo 9d1e branch:main", "snapshot": "cache-4"},
	}, {
		name: "outside GitHub Actions",
		env: func(sock string) map[string]string {
			return map[string]string{"CACHE_SOCKET": sock, "CACHE_PATH": "/home/runner/cache", "CACHE_KEY": "cargo 9d1e"}
		},
		request: "mount /home/runner/cache\n> cargo 9d1e\n< cargo 9d1e\n",
		answer:  "ok\t/home/runner/cache\t> cargo 9d1e\tcache-5\n",
		outputs: map[string]string{"cache-hit": "true", "matched": "> cargo 9d1e", "snapshot": "cache-5"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			agent := newFakeAgent(t, tc.answer)
			stdout, stderr, code, outputs := runWith(t, shell, tc.env(agent.sock))
			if code != 0 {
				t.Fatalf("exit status %d, want 0\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			raw := agent.request(t)
			if string(raw) != tc.request {
				t.Errorf("request bytes:\n%q\nwant\n%q", raw, tc.request)
			}
			// And the agent's own parser takes them as the mount meant.
			req, err := protocol.ReadRequest(bytes.NewReader(raw), protocol.DefaultLimits())
			if err != nil || req.Command != protocol.CommandMount || req.Path != "/home/runner/cache" {
				t.Errorf("the agent reads %+v, %v", req, err)
			}
			for k, want := range tc.outputs {
				if outputs[k] != want {
					t.Errorf("output %s = %q, want %q", k, outputs[k], want)
				}
			}
			if len(outputs) != len(tc.outputs) {
				t.Errorf("outputs %v, want %v", outputs, tc.outputs)
			}
			if !strings.Contains(stdout, "Mounted snapshot "+tc.outputs["snapshot"]+" at /home/runner/cache") {
				t.Errorf("stdout %q does not say what was mounted", stdout)
			}
		})
	}
}

// TestSave sends save with the key and the job's branch as the copy's
// annotations.
func TestSave(t *testing.T) {
	agent := newFakeAgent(t, "ok\t/home/runner/cache\tcache-9\n")
	env := pullRequest(agent.sock)
	env["CACHE_SAVE"] = "true"
	stdout, stderr, code, outputs := run(t, env)
	if code != 0 {
		t.Fatalf("exit status %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	want := "save /home/runner/cache\n< npm linux 5f3a branch:feature/login\n"
	if raw := agent.request(t); string(raw) != want {
		t.Errorf("request bytes %q, want %q", raw, want)
	}
	if outputs["snapshot"] != "cache-9" || len(outputs) != 1 {
		t.Errorf("outputs %v, want snapshot=cache-9 only", outputs)
	}
	if !strings.Contains(stdout, "Saved the cache at /home/runner/cache as snapshot cache-9.") {
		t.Errorf("stdout %q", stdout)
	}
}

// TestFailures: the step fails, with the reason as an error annotation,
// when the agent refuses, when there is no agent, and on inputs the
// agent would refuse (then without asking it).
func TestFailures(t *testing.T) {
	refusal := "mount path \"/etc/cache\" is outside the machine's allowed prefixes (/home/runner); 100% sure"
	for _, tc := range []struct {
		name   string
		answer string
		env    func(env map[string]string)
		asked  bool
		want   string
	}{{
		name:   "the agent refuses",
		answer: "error\t" + refusal + "\n",
		env:    func(env map[string]string) { env["CACHE_PATH"] = "/etc/cache" },
		asked:  true,
		want:   "::error title=rigplan cache::the cache agent refused: " + strings.ReplaceAll(refusal, "%", "%25") + "\n",
	}, {
		name:   "a save the agent refuses",
		answer: "error\tno cache is mounted at /home/runner/cache in this machine\n",
		env:    func(env map[string]string) { env["CACHE_SAVE"] = "true" },
		asked:  true,
		want:   "::error title=rigplan cache::the cache agent refused: no cache is mounted at /home/runner/cache in this machine\n",
	}, {
		name:  "no agent",
		env:   func(env map[string]string) { env["CACHE_SOCKET"] = "/nonexistent/socket" },
		asked: false,
		want:  "no answer from the cache agent at /nonexistent/socket",
	}, {
		name:   "an answer that is neither ok nor error",
		answer: "hello\n",
		asked:  true,
		want:   "no answer from the cache agent",
	}, {
		name: "no key",
		env:  func(env map[string]string) { env["CACHE_KEY"] = "  " },
		want: "no key: give the terms",
	}, {
		name: "a key of two lines",
		env:  func(env map[string]string) { env["CACHE_KEY"] = "npm\nlinux" },
		want: "the key is more than one line",
	}, {
		name: "no path",
		env:  func(env map[string]string) { delete(env, "CACHE_PATH") },
		want: "no path",
	}, {
		name: "too many criteria",
		env:  func(env map[string]string) { env["CACHE_RESTORE_KEYS"] = strings.Repeat("npm x\n", 16) },
		want: "34 criteria (keys times branches), over the agent's limit of 32",
	}, {
		name: "save is not a boolean",
		env:  func(env map[string]string) { env["CACHE_SAVE"] = "yes" },
		want: `save is "yes": want true or false`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			agent := newFakeAgent(t, tc.answer)
			env := pullRequest(agent.sock)
			if tc.env != nil {
				tc.env(env)
			}
			stdout, stderr, code, outputs := run(t, env)
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			if !strings.HasPrefix(stdout, "::error title=rigplan cache::") || !strings.Contains(stdout, tc.want) {
				t.Errorf("stdout %q, want an error annotation with %q (stderr %q)", stdout, tc.want, stderr)
			}
			if len(outputs) != 0 {
				t.Errorf("a failed step set outputs %v", outputs)
			}
			// The agent got a request if, and only if, one was due.
			time.Sleep(50 * time.Millisecond)
			select {
			case raw := <-agent.requests:
				if !tc.asked {
					t.Errorf("the agent was asked %q", raw)
				}
			default:
				if tc.asked {
					t.Error("the agent was never asked")
				}
			}
		})
	}
}

// TestActionMetadata checks action.yml against cache.sh: a composite
// action whose one step runs cache.sh with every input passed through
// the environment (never pasted into the script), every variable it sets
// read by cache.sh, and its outputs taken from that step. (The module
// has no YAML library; action.yml's plain block structure is read by
// indentation.)
func TestActionMetadata(t *testing.T) {
	raw, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("cache.sh")
	if err != nil {
		t.Fatal(err)
	}
	// keys maps paths of keys ("inputs/key/default",
	// "runs/steps/-/env/CACHE_KEY") to their values.
	keys := map[string]string{}
	var inputs, outputs []string
	var path [6]string
	for _, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		depth := (len(line) - len(trimmed)) / 2
		if item, ok := strings.CutPrefix(trimmed, "- "); ok {
			// A list item's keys sit one level below it: "-".
			path[depth] = "-"
			depth, trimmed = depth+1, item
		}
		k, v, ok := strings.Cut(trimmed, ":")
		if !ok || depth >= len(path) {
			continue
		}
		path[depth] = k
		full := strings.Join(path[:depth+1], "/")
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		keys[full] = v
		switch {
		case depth == 1 && path[0] == "inputs":
			inputs = append(inputs, k)
		case depth == 1 && path[0] == "outputs":
			outputs = append(outputs, k)
		}
	}
	if keys["runs/using"] != "composite" || keys["runs/steps/-/id"] != "cache" || keys["runs/steps/-/shell"] != "sh" {
		t.Errorf("runs: %v, want one composite step with id cache and shell sh", keys)
	}
	if run := keys["runs/steps/-/run"]; run != `sh "$GITHUB_ACTION_PATH/cache.sh"` || strings.Contains(run, "${{") {
		t.Errorf("the step runs %q, want cache.sh and no expressions in the script", run)
	}
	for _, in := range inputs {
		if keys["inputs/"+in+"/required"] != "true" {
			if _, ok := keys["inputs/"+in+"/default"]; !ok {
				t.Errorf("optional input %s has no default", in)
			}
		}
		var env string
		for k, v := range keys {
			if name, ok := strings.CutPrefix(k, "runs/steps/-/env/"); ok && v == "${{ inputs."+in+" }}" {
				env = name
			}
		}
		if env == "" {
			t.Errorf("input %s reaches no environment variable of the step", in)
		} else if !strings.Contains(string(script), "${"+env) {
			t.Errorf("cache.sh never reads %s (input %s)", env, in)
		}
	}
	if len(inputs) < 6 {
		t.Errorf("inputs %v: the reader found too few", inputs)
	}
	for _, name := range []string{"cache-hit", "matched", "snapshot"} {
		if got, want := keys["outputs/"+name+"/value"], "${{ steps.cache.outputs."+name+" }}"; got != want {
			t.Errorf("output %s is %q, want %q", name, got, want)
		}
		if !strings.Contains(string(script), "output "+name+" ") {
			t.Errorf("cache.sh never sets output %s", name)
		}
	}
	if len(outputs) != 3 {
		t.Errorf("outputs %v, want cache-hit, matched, snapshot", outputs)
	}
}
