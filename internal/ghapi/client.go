package ghapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v89/github"
)

// DefaultURL is GitHub's REST API. GitHub Enterprise Server's is
// https://HOST/api/v3/.
const DefaultURL = "https://api.github.com/"

// Runner is a self-hosted runner as GitHub lists it.
type Runner struct {
	ID      int64
	Name    string
	Status  string // "online" or "offline"
	Busy    bool
	Labels  []string
	Version string // the runner application's, once it has connected
}

// JITRequest asks for a just-in-time config of an ephemeral runner.
type JITRequest struct {
	Name    string
	GroupID int64
	Labels  []string
}

// JITConfig is GitHub's answer: the runner registered, and the config the
// runner takes with `run.sh --jitconfig`.
type JITConfig struct {
	Runner  Runner
	Encoded string
}

// Token is a registration token for `config.sh --token`.
type Token struct {
	Token     string
	ExpiresAt time.Time
}

// API is the calls rigplan makes.
type API interface {
	// ListRunners returns every runner of the scope, all pages.
	ListRunners(ctx context.Context, s Scope) ([]Runner, error)
	// Probe makes the cheapest call that needs what managing the scope's
	// runners needs (one runner of the list): it proves the credentials,
	// the App's installation and its permission.
	Probe(ctx context.Context, s Scope) error
	DeleteRunner(ctx context.Context, s Scope, id int64) error
	// RunnerGroupID resolves a runner group's name; a repository has only
	// the default group, 1.
	RunnerGroupID(ctx context.Context, s Scope, name string) (int64, error)
	GenerateJITConfig(ctx context.Context, s Scope, req JITRequest) (JITConfig, error)
	RegistrationToken(ctx context.Context, s Scope) (Token, error)
}

// Client is API on go-github.
type Client struct {
	gh   *github.Client
	auth string // what authenticates, for errors
}

var _ API = (*Client)(nil)

// Options configures a Client.
type Options struct {
	// URL is the REST API's base URL; "" is DefaultURL.
	URL string
	// Auth says how to authenticate.
	Auth Auth
	// Retry bounds retries; with Attempts 0, DefaultRetry's bounds (and
	// Retry's Sleep) are used.
	Retry Retry
	// Transport carries the requests; nil is http.DefaultTransport.
	Transport http.RoundTripper
	// Now is the clock installation tokens are kept by; nil is time.Now.
	Now func() time.Time
}

// New returns a client. It reads the credentials' files now, so that a
// missing or malformed file is an error here, naming it.
func New(opts Options) (*Client, error) {
	base := opts.URL
	if base == "" {
		base = DefaultURL
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	if opts.Retry.Attempts == 0 {
		sleep := opts.Retry.Sleep
		opts.Retry = DefaultRetry
		opts.Retry.Sleep = sleep
	}
	tr := opts.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	retrying := &retryTransport{next: tr, retry: opts.Retry}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	auth, err := opts.Auth.transport(retrying, base, now)
	if err != nil {
		return nil, err
	}
	gh, err := github.NewClient(
		github.WithTransport(auth),
		github.WithURLs(&base, &base),
		github.WithDisableRateLimitCheck(), // retryTransport waits instead
		github.WithUserAgent("rigplan"),
		github.WithTimeout(2*time.Minute),
	)
	if err != nil {
		return nil, err
	}
	return &Client{gh: gh, auth: opts.Auth.String()}, nil
}

// ListRunners returns every runner of the scope, following all pages.
func (c *Client) ListRunners(ctx context.Context, s Scope) ([]Runner, error) {
	return c.listRunners(ctx, s, 100, true)
}

// Probe lists one runner.
func (c *Client) Probe(ctx context.Context, s Scope) error {
	_, err := c.listRunners(ctx, s, 1, false)
	return err
}

func (c *Client) listRunners(ctx context.Context, s Scope, perPage int, all bool) ([]Runner, error) {
	opts := &github.ListRunnersOptions{ListOptions: github.ListOptions{PerPage: perPage}}
	var out []Runner
	for {
		var page *github.Runners
		var resp *github.Response
		var err error
		switch s.Kind {
		case Repository:
			owner, repo, e := s.ownerRepo()
			if e != nil {
				return nil, e
			}
			page, resp, err = c.gh.Actions.ListRunners(ctx, owner, repo, opts)
		case Organization:
			page, resp, err = c.gh.Actions.ListOrganizationRunners(ctx, s.Name, opts)
		case Enterprise:
			page, resp, err = c.gh.Enterprise.ListRunners(ctx, s.Name, opts)
		default:
			return nil, badKind(s)
		}
		if err != nil {
			return nil, c.explain(s, "list the runners of", err)
		}
		for _, r := range page.Runners {
			out = append(out, runnerOf(r))
		}
		if resp.NextPage == 0 || !all {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// DeleteRunner removes a runner from GitHub.
func (c *Client) DeleteRunner(ctx context.Context, s Scope, id int64) error {
	var err error
	switch s.Kind {
	case Repository:
		owner, repo, e := s.ownerRepo()
		if e != nil {
			return e
		}
		_, err = c.gh.Actions.RemoveRunner(ctx, owner, repo, id)
	case Organization:
		_, err = c.gh.Actions.RemoveOrganizationRunner(ctx, s.Name, id)
	case Enterprise:
		_, err = c.gh.Enterprise.RemoveRunner(ctx, s.Name, id)
	default:
		return badKind(s)
	}
	if err != nil {
		return c.explain(s, fmt.Sprintf("delete runner %d of", id), err)
	}
	return nil
}

// RunnerGroupID finds a runner group by name (case-insensitively, as
// GitHub compares them).
func (c *Client) RunnerGroupID(ctx context.Context, s Scope, name string) (int64, error) {
	if s.Kind == Repository {
		if name != "" && !strings.EqualFold(name, "Default") {
			return 0, fmt.Errorf("runner group %q: a repository's runners are always in the group Default; runner groups belong to organizations and enterprises", name)
		}
		return 1, nil
	}
	list := github.ListOptions{PerPage: 100}
	var seen []string
	for {
		groups, resp, err := c.groupPage(ctx, s, list)
		if err != nil {
			return 0, err
		}
		for _, g := range groups {
			if strings.EqualFold(g.name, name) {
				return g.id, nil
			}
			seen = append(seen, g.name)
		}
		if resp.NextPage == 0 {
			return 0, fmt.Errorf("%s has no runner group %q (it has: %s): create it in the settings under Actions → Runner groups, or fix runner_group", s, name, strings.Join(seen, ", "))
		}
		list.Page = resp.NextPage
	}
}

type group struct {
	id   int64
	name string
}

// groupPage lists one page of an organization's or enterprise's runner
// groups.
func (c *Client) groupPage(ctx context.Context, s Scope, list github.ListOptions) ([]group, *github.Response, error) {
	var groups []group
	var resp *github.Response
	var err error
	switch s.Kind {
	case Organization:
		var page *github.RunnerGroups
		page, resp, err = c.gh.Actions.ListOrganizationRunnerGroups(ctx, s.Name, &github.ListOrgRunnerGroupOptions{ListOptions: list})
		if err == nil {
			groups = groupsOf(page.RunnerGroups)
		}
	case Enterprise:
		var page *github.EnterpriseRunnerGroups
		page, resp, err = c.gh.Enterprise.ListRunnerGroups(ctx, s.Name, &github.ListEnterpriseRunnerGroupOptions{ListOptions: list})
		if err == nil {
			groups = groupsOf(page.RunnerGroups)
		}
	default:
		return nil, nil, badKind(s)
	}
	if err != nil {
		return nil, resp, c.explain(s, "list the runner groups of", err)
	}
	return groups, resp, nil
}

func groupsOf[G interface {
	GetID() int64
	GetName() string
}](gs []G) []group {
	out := make([]group, len(gs))
	for i, g := range gs {
		out[i] = group{g.GetID(), g.GetName()}
	}
	return out
}

// GenerateJITConfig registers an ephemeral runner and returns its
// just-in-time config.
func (c *Client) GenerateJITConfig(ctx context.Context, s Scope, req JITRequest) (JITConfig, error) {
	body := github.CreateJITConfigRequest{Name: req.Name, RunnerGroupID: req.GroupID, Labels: req.Labels}
	var cfg *github.JITRunnerConfig
	var err error
	switch s.Kind {
	case Repository:
		owner, repo, e := s.ownerRepo()
		if e != nil {
			return JITConfig{}, e
		}
		cfg, _, err = c.gh.Actions.CreateRepoJITConfig(ctx, owner, repo, body)
	case Organization:
		cfg, _, err = c.gh.Actions.CreateOrgJITConfig(ctx, s.Name, body)
	case Enterprise:
		cfg, _, err = c.gh.Enterprise.CreateJITConfig(ctx, s.Name, body)
	default:
		return JITConfig{}, badKind(s)
	}
	if err != nil {
		return JITConfig{}, c.explain(s, fmt.Sprintf("generate a just-in-time config for runner %q in", req.Name), err)
	}
	if cfg.GetEncodedJITConfig() == "" {
		return JITConfig{}, fmt.Errorf("GitHub answered without an encoded_jit_config for runner %q in %s", req.Name, s)
	}
	return JITConfig{Runner: runnerOf(cfg.Runner), Encoded: cfg.GetEncodedJITConfig()}, nil
}

// RegistrationToken returns a token for config.sh.
func (c *Client) RegistrationToken(ctx context.Context, s Scope) (Token, error) {
	var t *github.RegistrationToken
	var err error
	switch s.Kind {
	case Repository:
		owner, repo, e := s.ownerRepo()
		if e != nil {
			return Token{}, e
		}
		t, _, err = c.gh.Actions.CreateRegistrationToken(ctx, owner, repo)
	case Organization:
		t, _, err = c.gh.Actions.CreateOrganizationRegistrationToken(ctx, s.Name)
	case Enterprise:
		t, _, err = c.gh.Enterprise.CreateRegistrationToken(ctx, s.Name)
	default:
		return Token{}, badKind(s)
	}
	if err != nil {
		return Token{}, c.explain(s, "create a registration token for", err)
	}
	return Token{Token: t.GetToken(), ExpiresAt: t.GetExpiresAt().Time}, nil
}

func runnerOf(r *github.Runner) Runner {
	if r == nil {
		return Runner{}
	}
	out := Runner{ID: r.GetID(), Name: r.GetName(), Status: r.GetStatus(), Busy: r.GetBusy(), Version: r.GetVersion()}
	for _, l := range r.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}

func badKind(s Scope) error {
	return fmt.Errorf("scope kind %q: want %s, %s or %s", s.Kind, Repository, Organization, Enterprise)
}

// explain turns what go-github returned into an Error.
func (c *Client) explain(s Scope, doing string, err error) error {
	return explain(doing+" "+s.String(), c.auth, s.permission(), err)
}

// explain makes an Error of err, with GitHub's answer when there was one.
func explain(doing, auth, permission string, err error) error {
	e := &Error{Doing: doing, Auth: auth, Permission: permission, Err: err}
	var gh *github.ErrorResponse
	if errors.As(err, &gh) && gh.Response != nil {
		e.Status = gh.Response.StatusCode
		e.Message = gh.Message
		e.Accepted = gh.Response.Header.Get("X-Accepted-GitHub-Permissions")
	}
	var rl *github.RateLimitError
	if errors.As(err, &rl) && rl.Response != nil {
		e.Status, e.Message = rl.Response.StatusCode, rl.Message
	}
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) && abuse.Response != nil {
		e.Status, e.Message = abuse.Response.StatusCode, abuse.Message
	}
	return e
}
