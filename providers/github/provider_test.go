package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rigplan/rigplan/internal/ghapi"
	"github.com/rigplan/rigplan/internal/runnerconf"
	"github.com/rigplan/rigplan/internal/sysexec"
	"github.com/rigplan/rigplan/internal/systemd"
	"github.com/rigplan/rigplan/internal/systemd/standin"
	"github.com/rigplan/rigplan/providers"
	"github.com/rigplan/rigplan/providers/github/githubtest"
	"github.com/rigplan/rigplan/providers/providertest"
	"github.com/rigplan/rigplan/schema"
)

var ci = schema.Address{Type: "runner", Name: "ci"}

const machineUnit = "systemd-nspawn@github-runner.service"

type env struct {
	providertest.Harness
	root string
	srv  *githubtest.Server
	sd   systemd.Manager
	p    *Provider
}

// newEnv is the provider on a temporary root, with a stand-in systemd
// that has the machine's unit and a strict local GitHub with acme's
// repository and organization and a token for them in
// /etc/rigplan/github-token.
func newEnv(t *testing.T) *env {
	t.Helper()
	root := t.TempDir()
	write(t, filepath.Join(root, "lib/systemd/system/systemd-nspawn@.service"), "[Service]\nExecStart=systemd-nspawn --boot --machine=%i\n")
	fake := standin.New(t, root)
	sd := fake.Manager(sysexec.Host{})
	srv := githubtest.New(t)
	srv.AddScope("repos/acme/widgets")
	srv.AddScope("orgs/acme")
	srv.AddToken("ghp_rigplantest")
	write(t, filepath.Join(root, "etc/rigplan/github-token"), "ghp_rigplantest\n")
	p := New(sysexec.Refuse{Reason: "the github provider runs commands only through its systemd.Manager"}, Options{Root: root, Systemd: sd})
	return &env{Harness: providertest.Harness{T: t, P: p}, root: root, srv: srv, sd: sd, p: p}
}

func (e *env) hcl(body string) string {
	return fmt.Sprintf("runner \"ci\" {\n  api_url = %q\n%s\n}\n", e.srv.URL, body)
}

const repoRunner = `
  repository  = "acme/widgets"
  labels      = ["linux", "cache"]
  machines    = ["github-runner"]
  token_file  = "/etc/rigplan/github-token"
  min_version = "2.320.0"
`

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The policy's file for the agent; rigplan's runners that should go are
// drift, deleted by apply; runners without its label, and the one the
// machine's current boot registered, are left alone.
func TestRunnerLifecycle(t *testing.T) {
	e := newEnv(t)
	cfg := e.Config(ci, e.hcl(repoRunner))
	if a := e.MustConverge(ci, cfg); a != providers.Create {
		t.Fatalf("first apply: %v", a)
	}
	b, err := os.ReadFile(filepath.Join(e.root, "etc/rigplan/runners/ci.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := runnerconf.Parse(b)
	if err != nil || c.Address != "runner.ci" || c.Scope != (ghapi.Scope{Kind: "repository", Name: "acme/widgets"}) ||
		!slices.Equal(c.Labels, []string{"linux", "cache", "rigplan.runner.ci"}) || c.Auth.TokenFile != "/etc/rigplan/github-token" ||
		!c.Ephemeral || !c.DisableUpdate || c.Group != "Default" {
		t.Errorf("runner file %+v (%v):\n%s", c, err, b)
	}
	if strings.Contains(string(b), "ghp_rigplantest") {
		t.Error("the runner file holds the token itself")
	}
	if a := e.MustConverge(ci, cfg); a != providers.NoOp {
		t.Errorf("second apply: %v, want no change", a)
	}

	// The machine runs; its current boot registered a runner.
	if err := e.sd.Start(context.Background(), machineUnit); err != nil {
		t.Fatal(err)
	}
	st, err := systemd.ShowOne(context.Background(), e.sd, machineUnit)
	if err != nil || len(st.InvocationID) != 32 {
		t.Fatalf("the machine's invocation: %+v, %v", st, err)
	}
	const scope = "repos/acme/widgets"
	mark := []string{"self-hosted", "linux", "rigplan.runner.ci"}
	current := e.srv.AddRunner(scope, githubtest.Runner{Name: runnerconf.RunnerName("", "github-runner", st.InvocationID), Status: "offline", Labels: mark})
	orphan := e.srv.AddRunner(scope, githubtest.Runner{Name: "github-runner-0badb00t", Status: "offline", Labels: mark})
	foreign := e.srv.AddRunner(scope, githubtest.Runner{Name: "hand-made", Status: "offline", Labels: []string{"self-hosted", "linux"}})
	old := e.srv.AddRunner(scope, githubtest.Runner{Name: "github-runner-old", Status: "online", Labels: mark, Version: "2.300.0"})
	oldBusy := e.srv.AddRunner(scope, githubtest.Runner{Name: "github-runner-oldbusy", Status: "online", Busy: true, Labels: mark, Version: "2.300.0"})
	fresh := e.srv.AddRunner(scope, githubtest.Runner{Name: "github-runner-fresh", Status: "online", Labels: mark, Version: "2.321.0"})

	prior := e.Prior(ci, cfg)
	if got := stringsOf(prior.GetAttr("orphans")); !slices.Equal(got, []string{"github-runner-0badb00t"}) {
		t.Errorf("orphans %v", got)
	}
	if got := stringsOf(prior.GetAttr("outdated")); !slices.Equal(got, []string{"github-runner-old", "github-runner-oldbusy"}) {
		t.Errorf("outdated %v", got)
	}
	plan := e.Plan(ci, cfg, prior)
	if !strings.Contains(plan.Diagnostics.Error(), "github-runner-0badb00t") {
		t.Errorf("plan does not say what it deletes: %v", plan.Diagnostics)
	}
	action, _, resp := e.Converge(ci, cfg)
	if action != providers.Update || resp.Diagnostics.HasErrors() || !strings.Contains(resp.Diagnostics.Error(), "github-runner-oldbusy runs a job") {
		t.Errorf("apply: %v, %v", action, resp.Diagnostics)
	}
	var ids []int64
	for _, r := range e.srv.Runners(scope) {
		ids = append(ids, r.ID)
	}
	if want := []int64{current, foreign, oldBusy, fresh}; !slices.Equal(ids, want) {
		t.Errorf("runners left %v, want %v (orphan %d and idle outdated %d deleted)", ids, want, orphan, old)
	}
	// The job ends: the next apply deletes the outdated runner.
	e.srv.SetRunner(scope, oldBusy, "online", false)
	e.MustConverge(ci, cfg)
	if a := e.MustConverge(ci, cfg); a != providers.NoOp {
		t.Errorf("after the clean-up: %v, want no change", a)
	}

	// The block removed: its runners without a job and its file go.
	if err := e.sd.Stop(context.Background(), machineUnit); err != nil {
		t.Fatal(err)
	}
	prior = e.Prior(ci, cfg)
	resp = e.p.Apply(context.Background(), &providers.ApplyRequest{Addr: ci, Action: providers.Delete, Prior: prior, Planned: cty.NullVal(e.p.schema.ImpliedType())})
	if resp.Diagnostics.HasErrors() {
		t.Fatal(resp.Diagnostics)
	}
	if _, err := os.Stat(filepath.Join(e.root, "etc/rigplan/runners/ci.json")); !os.IsNotExist(err) {
		t.Errorf("runner file after delete: %v", err)
	}
	var left []string
	for _, r := range e.srv.Runners(scope) {
		left = append(left, r.Name)
	}
	// Its idle runners go with it, the online one too (destroy stops the
	// machine behind it next); the hand-made one stays.
	if !slices.Equal(left, []string{"hand-made"}) {
		t.Errorf("runners after delete %v, want only the hand-made one", left)
	}
}

func TestValidate(t *testing.T) {
	p := New(sysexec.Refuse{}, Options{})
	for _, tc := range []struct{ body, want string }{
		{`labels = ["a"]` + "\n" + `machines = ["m"]` + "\n" + `token_file = "/t"`, "Missing scope"},
		{`repository = "a/b"` + "\n" + `organization = "a"` + "\n" + `labels = ["a"]` + "\n" + `machines = ["m"]` + "\n" + `token_file = "/t"`, "Two scopes"},
		{`repository = "ab"` + "\n" + `labels = ["a"]` + "\n" + `machines = ["m"]` + "\n" + `token_file = "/t"`, "Invalid repository"},
		{`repository = "a/b"` + "\n" + `runner_group = "gpu"` + "\n" + `labels = ["a"]` + "\n" + `machines = ["m"]` + "\n" + `token_file = "/t"`, "No runner groups for repositories"},
		{`repository = "a/b"` + "\n" + `labels = ["a"]` + "\n" + `machines = ["m"]`, "Missing credentials"},
		{`enterprise = "e"` + "\n" + `labels = ["a"]` + "\n" + `machines = ["m"]` + "\n" + `app {` + "\n" + `id = 1` + "\n" + `installation_id = 2` + "\n" + `private_key_file = "/k.pem"` + "\n" + `}`, "GitHub Apps cannot manage enterprise runners"},
		{`repository = "a/b"` + "\n" + `labels = []` + "\n" + `machines = ["m"]` + "\n" + `token_file = "/t"`, "No labels"},
		{`repository = "a/b"` + "\n" + `labels = ["x", "X"]` + "\n" + `machines = ["m"]` + "\n" + `token_file = "/t"`, "Duplicate label"},
		{`repository = "a/b"` + "\n" + `labels = ["rigplan.runner.other"]` + "\n" + `machines = ["m"]` + "\n" + `token_file = "/t"`, "Reserved label"},
		{`repository = "a/b"` + "\n" + `labels = ["a"]` + "\n" + `machines = ["m"]` + "\n" + `token_file = "ghp_0123456789abcdefghijABCDEFGHIJ"`, "looks like a secret"},
		{`repository = "a/b"` + "\n" + `labels = ["a"]` + "\n" + `machines = ["m"]` + "\n" + `token_file = "/t"` + "\n" + `min_version = "latest"`, "not a runner version"},
	} {
		_, diags := providertest.Decode(p, ci, "runner \"ci\" {\n"+tc.body+"\n}\n")
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s:\n%v\nwant an error with %q", tc.body, diags, tc.want)
		}
	}
	// A secret elsewhere in the block is a warning.
	_, diags := providertest.Decode(p, ci, "runner \"ci\" {\nrepository = \"a/b\"\nlabels = [\"ghp_0123456789abcdefghijABCDEFGHIJ\"]\nmachines = [\"m\"]\ntoken_file = \"/t\"\n}\n")
	if diags.HasErrors() || !strings.Contains(diags.Error(), "Secret in the configuration") {
		t.Errorf("a token as a label: %v", diags)
	}
}

// Plan asks GitHub before anything is written: bad credentials, a group
// that is not there, an App without the permission, GitHub down.
func TestPlanFindsGitHubProblems(t *testing.T) {
	e := newEnv(t)
	null := cty.NullVal(e.p.schema.ImpliedType())
	plan := func(src string) string {
		resp := e.p.Plan(context.Background(), &providers.PlanRequest{Addr: ci, Config: e.Config(ci, e.hcl(src)), Prior: null})
		if !resp.Diagnostics.HasErrors() {
			t.Errorf("plan of\n%s\nhas no error", src)
		}
		return resp.Diagnostics.Error()
	}
	write(t, filepath.Join(e.root, "etc/rigplan/expired-token"), "ghp_expired\n")
	if msg := plan(strings.Replace(repoRunner, "github-token", "expired-token", 1)); !strings.Contains(msg, "rejected the credentials") {
		t.Errorf("expired token: %s", msg)
	}
	org := "organization = \"acme\"\nlabels = [\"linux\"]\nmachines = [\"github-runner\"]\nrunner_group = \"gpu\"\n"
	if msg := plan(org + "token_file = \"/etc/rigplan/github-token\"\n"); !strings.Contains(msg, `no runner group "gpu"`) {
		t.Errorf("missing runner group: %s", msg)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.AddApp(11, &key.PublicKey)
	e.srv.AddInstallation(11, 22, "acme", map[string]string{"organization_self_hosted_runners": "write"})
	write(t, filepath.Join(e.root, "etc/rigplan/app.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	app := "app {\n  id = 11\n  installation_id = 22\n  private_key_file = \"/etc/rigplan/app.pem\"\n}\n"
	if msg := plan("repository = \"acme/widgets\"\nlabels = [\"linux\"]\nmachines = [\"github-runner\"]\n" + app); !strings.Contains(msg, "administration") {
		t.Errorf("App without the administration permission: %s", msg)
	}
	write(t, filepath.Join(e.root, "etc/rigplan/not.pem"), "hello\n")
	if msg := plan("organization = \"acme\"\nlabels = [\"linux\"]\nmachines = [\"github-runner\"]\n" + strings.Replace(app, "app.pem", "not.pem", 1)); !strings.Contains(msg, "is not a PEM file") {
		t.Errorf("a key that is not PEM: %s", msg)
	}
}
