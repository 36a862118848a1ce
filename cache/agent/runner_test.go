package agent_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rigplan/rigplan/cache/agent"
	"github.com/rigplan/rigplan/cache/inject/machinetest"
	"github.com/rigplan/rigplan/internal/ghapi"
	"github.com/rigplan/rigplan/internal/runnerconf"
	"github.com/rigplan/rigplan/providers/github/githubtest"
)

const ghToken = "ghp_rigplanAgentTestToken0123456789"

// TestRunnerConfigInMachine: a process in a real nspawn machine asks the
// agent over its socket for its runner's just-in-time config and gets
// one, registered on (a strict local) GitHub under the machine's name,
// with the runner block's labels; the token the agent used is not
// readable from inside the machine, even by its root; a machine no runner
// block lists is refused.
func TestRunnerConfigInMachine(t *testing.T) {
	e := newEnv(t, 2)
	srv := githubtest.New(t)
	srv.AddScope("orgs/acme")
	builders := srv.AddRunnerGroup("orgs/acme", "builders")
	srv.AddToken(ghToken)

	root := t.TempDir()
	tokenFile := "/etc/rigplan/github-token"
	if err := os.MkdirAll(filepath.Join(root, "etc/rigplan/runners"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, tokenFile), []byte(ghToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := e.machine(0)
	pol := runnerconf.Config{Address: "runner.ci", URL: srv.URL, Scope: ghapi.Scope{Kind: ghapi.Organization, Name: "acme"},
		Labels: []string{"linux", "cache", runnerconf.Label("ci")}, Group: "builders", Ephemeral: true, DisableUpdate: true,
		Machines: []string{first.Name()}, Auth: ghapi.Auth{TokenFile: filepath.Join(root, tokenFile)}}
	if err := os.WriteFile(runnerconf.Path(root, "ci"), runnerconf.Marshal(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	e.serve(e.config(func(c *agent.Config) { c.RunnersRoot = root }), depsNone())

	out := ncat(t, first, "runner-config\n")
	fields := strings.Split(strings.TrimSuffix(out, "\n"), "\t")
	if len(fields) != 3 || fields[0] != "ok" {
		t.Fatalf("runner-config answered %q", out)
	}
	cfg, err := githubtest.DecodeJITConfig(fields[1])
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != fields[2] || !strings.HasPrefix(cfg.Name, first.Name()+"-") || cfg.GroupID != builders ||
		!slices.Contains(cfg.Labels, "rigplan.runner.ci") || !slices.Contains(cfg.Labels, "cache") {
		t.Errorf("the machine's config: %+v (answer %q)", cfg, out)
	}
	if rs := srv.Runners("orgs/acme"); len(rs) != 1 || rs[0].Name != cfg.Name {
		t.Errorf("runners on GitHub: %+v", rs)
	}
	if strings.Contains(out, ghToken) {
		t.Error("the answer holds the token")
	}
	// The token file, wherever it is, is not readable in the machine.
	got := first.Sh(t, machinetest.Root, "cat "+filepath.Join(root, tokenFile)+" 2>/dev/null || echo unreadable")
	if strings.Contains(got, ghToken) || !strings.Contains(got, "unreadable") {
		t.Errorf("in the machine, the token file gives %q", got)
	}

	// Images that still run config.sh ask for a registration token.
	out = ncat(t, first, "registration-token\n")
	fields = strings.Split(strings.TrimSuffix(out, "\n"), "\t")
	if len(fields) != 7 || fields[0] != "ok" || fields[1] == "" || fields[2] != srv.URL+"/acme" || !strings.HasPrefix(fields[3], first.Name()+"-") ||
		fields[4] != "linux,cache,rigplan.runner.ci" || fields[5] != "builders" || fields[6] != "--ephemeral --disableupdate" {
		t.Errorf("registration-token answered %q", out)
	}

	// A machine the cache declares but no runner block lists.
	out = ncat(t, e.machine(1), "runner-config\n")
	if !strings.HasPrefix(out, "error") || !strings.Contains(out, "no runner block lists machine") {
		t.Errorf("an undeclared machine's runner-config: %q", out)
	}
	// GitHub down: the machine learns it failed; the details are the
	// operator's.
	srv.Fail(githubtest.ServerError(503), githubtest.ServerError(503), githubtest.ServerError(503), githubtest.ServerError(503), githubtest.ServerError(503))
	out = ncat(t, first, "registration-token\n")
	if !strings.HasPrefix(out, "error") || !strings.Contains(out, "503") {
		t.Errorf("registration-token with GitHub down: %q", out)
	}
}
