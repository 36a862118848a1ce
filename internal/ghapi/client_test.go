package ghapi

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rigplan/rigplan/providers/github/githubtest"
)

const token = "ghp_rigplantesttoken"

// newClient is a client of a strict local GitHub with a token, and the
// waits its retries asked for (none is slept).
func newClient(t *testing.T, srv *githubtest.Server, auth Auth) (*Client, *[]time.Duration) {
	t.Helper()
	var waits []time.Duration
	c, err := New(Options{URL: srv.URL, Auth: auth, Retry: Retry{Attempts: 4, Backoff: time.Second, MaxWait: time.Minute,
		Sleep: func(_ *http.Request, d time.Duration) error { waits = append(waits, d); return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	return c, &waits
}

func tokenAuth(t *testing.T, srv *githubtest.Server) Auth {
	t.Helper()
	srv.AddToken(token)
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Auth{TokenFile: f}
}

var scopes = []Scope{{Repository, "acme/widgets"}, {Organization, "acme"}, {Enterprise, "acme-corp"}}

func prefix(s Scope) string {
	return map[string]string{Repository: "repos/", Organization: "orgs/", Enterprise: "enterprises/"}[s.Kind] + s.Name
}

// Every page of every scope, a runner each exactly once.
func TestListRunnersAllPages(t *testing.T) {
	srv := githubtest.New(t)
	c, _ := newClient(t, srv, tokenAuth(t, srv))
	for _, s := range scopes {
		srv.AddScope(prefix(s))
		for i := range 250 {
			srv.AddRunner(prefix(s), githubtest.Runner{Name: fmt.Sprintf("r%03d", i), OS: "linux", Status: "online", Labels: []string{"self-hosted", "rigplan"}, GroupID: 1, Version: "2.321.0"})
		}
		got, err := c.ListRunners(context.Background(), s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		names := map[string]bool{}
		for _, r := range got {
			names[r.Name] = true
		}
		if len(got) != 250 || len(names) != 250 || !slices.Contains(got[0].Labels, "rigplan") || got[0].Version != "2.321.0" {
			t.Errorf("%s: %d runners, %d distinct, first %+v; want 250", s, len(got), len(names), got[0])
		}
	}
	gets := 0
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r, "GET ") {
			gets++
		}
	}
	if gets != 9 {
		t.Errorf("%d list requests for 3 × 250 runners, want 9 (pages of 100):\n%s", gets, strings.Join(srv.Requests(), "\n"))
	}
}

func TestJITConfigDeleteAndTokens(t *testing.T) {
	srv := githubtest.New(t)
	c, _ := newClient(t, srv, tokenAuth(t, srv))
	ctx := context.Background()
	for _, s := range scopes {
		srv.AddScope(prefix(s))
		group := "Default"
		want := int64(1)
		if s.Kind != Repository {
			group = "builders"
			want = srv.AddRunnerGroup(prefix(s), group)
		}
		id, err := c.RunnerGroupID(ctx, s, group)
		if err != nil || id != want {
			t.Fatalf("%s: group %q = %d, %v; want %d", s, group, id, err, want)
		}
		cfg, err := c.GenerateJITConfig(ctx, s, JITRequest{Name: "github-runner-1", GroupID: id, Labels: []string{"rigplan", "x64"}})
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		dec, err := githubtest.DecodeJITConfig(cfg.Encoded)
		if err != nil || dec.Name != "github-runner-1" || dec.GroupID != id || !slices.Contains(dec.Labels, "rigplan") {
			t.Errorf("%s: config %+v (%v)", s, dec, err)
		}
		if cfg.Runner.ID == 0 || cfg.Runner.Status != "offline" {
			t.Errorf("%s: registered runner %+v", s, cfg.Runner)
		}
		// The same name twice: GitHub's 409, explained.
		_, err = c.GenerateJITConfig(ctx, s, JITRequest{Name: "github-runner-1", GroupID: id, Labels: []string{"rigplan"}})
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusConflict {
			t.Errorf("%s: a second runner with one name: %v", s, err)
		}
		tok, err := c.RegistrationToken(ctx, s)
		if err != nil || tok.Token == "" || time.Until(tok.ExpiresAt) < 50*time.Minute {
			t.Errorf("%s: registration token %+v, %v", s, tok, err)
		}
		if err := c.DeleteRunner(ctx, s, cfg.Runner.ID); err != nil {
			t.Errorf("%s: delete: %v", s, err)
		}
		if left := srv.Runners(prefix(s)); len(left) != 0 {
			t.Errorf("%s: runners after delete: %+v", s, left)
		}
	}
	// A group that is not there names the ones that are.
	_, err := c.RunnerGroupID(ctx, scopes[1], "gpu")
	if err == nil || !strings.Contains(err.Error(), `no runner group "gpu"`) || !strings.Contains(err.Error(), "builders") {
		t.Errorf("missing group: %v", err)
	}
	if _, err := c.RunnerGroupID(ctx, scopes[0], "builders"); err == nil || !strings.Contains(err.Error(), "always in the group Default") {
		t.Errorf("a group for a repository: %v", err)
	}
	// No labels: GitHub's 422, explained.
	if _, err := c.GenerateJITConfig(ctx, scopes[0], JITRequest{Name: "x", GroupID: 1}); err == nil || !strings.Contains(err.Error(), "422") {
		t.Errorf("a config without labels: %v", err)
	}
}

// 5xx and rate limits are retried after the waits GitHub asks for; a
// rate limit that resets later than MaxWait is an error at once.
func TestRetries(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddScope("repos/acme/widgets")
	c, waits := newClient(t, srv, tokenAuth(t, srv))
	s := scopes[0]
	srv.Fail(githubtest.ServerError(502), githubtest.ServerError(503), githubtest.SecondaryRateLimit(7*time.Second))
	if _, err := c.ListRunners(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if len(*waits) != 3 || (*waits)[0] < time.Second || (*waits)[1] < 2*time.Second || (*waits)[2] != 7*time.Second {
		t.Errorf("waits %v, want backoff ≥1s, ≥2s, then Retry-After 7s", *waits)
	}
	*waits = nil
	srv.Fail(githubtest.PrimaryRateLimit(time.Now().Add(30 * time.Second)))
	if _, err := c.ListRunners(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if len(*waits) != 1 || (*waits)[0] < 25*time.Second || (*waits)[0] > 35*time.Second {
		t.Errorf("waits %v, want about 30s until X-RateLimit-Reset", *waits)
	}
	*waits = nil
	srv.Fail(githubtest.PrimaryRateLimit(time.Now().Add(2 * time.Hour)))
	_, err := c.ListRunners(context.Background(), s)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusForbidden || len(*waits) != 0 {
		t.Errorf("a rate limit resetting in two hours: %v after waits %v", err, *waits)
	}
	// 5xx until the attempts run out: GitHub's last answer, explained.
	srv.Fail(githubtest.ServerError(500), githubtest.ServerError(500), githubtest.ServerError(500), githubtest.ServerError(500))
	if _, err := c.ListRunners(context.Background(), s); err == nil || !strings.Contains(err.Error(), "GitHub failed (500") {
		t.Errorf("GitHub down: %v", err)
	}
}

func TestBadCredentials(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddScope("repos/acme/widgets")
	tokenAuth(t, srv)
	f := filepath.Join(t.TempDir(), "token")
	os.WriteFile(f, []byte("ghp_revoked\n"), 0o600)
	c, _ := newClient(t, srv, Auth{TokenFile: f})
	_, err := c.ListRunners(context.Background(), scopes[0])
	if err == nil || !strings.Contains(err.Error(), "rejected the credentials") || !strings.Contains(err.Error(), f) || strings.Contains(err.Error(), "ghp_revoked") {
		t.Errorf("a revoked token: %v", err)
	}
	_, err = c.ListRunners(context.Background(), Scope{Repository, "acme/missing"})
	if err == nil {
		t.Error("a repository that does not exist listed fine")
	}
	for name, text := range map[string]string{"empty": "", "two": "a b\n"} {
		f := filepath.Join(t.TempDir(), name)
		os.WriteFile(f, []byte(text), 0o600)
		if _, err := New(Options{URL: srv.URL, Auth: Auth{TokenFile: f}}); err == nil || !strings.Contains(err.Error(), "does not hold one GitHub token") {
			t.Errorf("token file %q: %v", text, err)
		}
	}
	if _, err := New(Options{URL: srv.URL, Auth: Auth{TokenFile: "/nonexistent/token"}}); err == nil || !strings.Contains(err.Error(), "/nonexistent/token") {
		t.Errorf("missing token file: %v", err)
	}
}

// appAuth registers an App and its installation on acme with perms, and
// returns the Auth for it.
func appAuth(t *testing.T, srv *githubtest.Server, perms map[string]string) Auth {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv.AddApp(42, &key.PublicKey)
	srv.AddInstallation(42, 7, "acme", perms)
	f := filepath.Join(t.TempDir(), "app.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return Auth{AppID: 42, InstallationID: 7, PrivateKeyFile: f}
}

func TestGitHubApp(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddScope("orgs/acme")
	srv.AddScope("repos/acme/widgets")
	auth := appAuth(t, srv, map[string]string{"organization_self_hosted_runners": "write"})
	now := time.Now()
	srv.Now = func() time.Time { return now }
	c, err := New(Options{URL: srv.URL, Auth: auth, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	org := Scope{Organization, "acme"}
	for range 3 {
		if _, err := c.ListRunners(ctx, org); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.IssuedTokens(); n != 1 {
		t.Errorf("%d installation tokens for three calls within the hour, want 1 (cached)", n)
	}
	// Shortly before the hour is up, the next call gets a new token.
	now = now.Add(56 * time.Minute)
	if _, err := c.ListRunners(ctx, org); err != nil {
		t.Fatal(err)
	}
	if n := srv.IssuedTokens(); n != 2 {
		t.Errorf("%d installation tokens after 56 minutes, want 2", n)
	}
	// A repository needs the administration permission, which this
	// installation lacks: the error names it.
	_, err = c.ListRunners(ctx, Scope{Repository, "acme/widgets"})
	if err == nil || !strings.Contains(err.Error(), "administration") || !strings.Contains(err.Error(), "GitHub App 42") {
		t.Errorf("a missing permission: %v", err)
	}
	// A repository of another owner: the App is not installed there.
	srv.AddScope("repos/other/tools")
	_, err = c.ListRunners(ctx, Scope{Repository, "other/tools"})
	if err == nil || !strings.Contains(err.Error(), "is the App installed there") {
		t.Errorf("a repository the App is not installed on: %v", err)
	}
	// An installation that is not there.
	bad := auth
	bad.InstallationID = 99
	c, _ = New(Options{URL: srv.URL, Auth: bad})
	if _, err := c.ListRunners(ctx, org); err == nil || !strings.Contains(err.Error(), "installation 99") {
		t.Errorf("an unknown installation: %v", err)
	}
}

func TestAppKeyNotPEM(t *testing.T) {
	f := filepath.Join(t.TempDir(), "key")
	os.WriteFile(f, []byte("ghp_this_is_a_token_not_a_key\n"), 0o600)
	_, err := New(Options{Auth: Auth{AppID: 1, InstallationID: 2, PrivateKeyFile: f}})
	if err == nil || !strings.Contains(err.Error(), "is not a PEM file") {
		t.Errorf("a key that is not PEM: %v", err)
	}
	os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("garbage")}), 0o600)
	if _, err := New(Options{Auth: Auth{AppID: 1, InstallationID: 2, PrivateKeyFile: f}}); err == nil || !strings.Contains(err.Error(), "holds no RSA private key") {
		t.Errorf("a PEM file without a key: %v", err)
	}
}

// One client per credentials, kept; a rewritten token file makes a new one.
func TestClientsKeptUntilTheFileChanges(t *testing.T) {
	srv := githubtest.New(t)
	auth := tokenAuth(t, srv)
	made := 0
	cs := Clients{New: func(o Options) (API, error) { made++; return New(o) }}
	o := Options{URL: srv.URL, Auth: auth}
	a, err := cs.Get(o)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := cs.Get(o); b != a || made != 1 {
		t.Errorf("a second Get made another client (%d made)", made)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(auth.TokenFile, later, later); err != nil {
		t.Fatal(err)
	}
	if b, _ := cs.Get(o); b == a || made != 2 {
		t.Errorf("a rewritten token file kept the old client (%d made)", made)
	}
}
