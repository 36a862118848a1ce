// Package githubtest is a strict local stand-in for the part of GitHub's
// REST API that rigplan uses to manage self-hosted runners, for tests.
//
// # What is modelled
//
// Scopes are named by their URL prefix: "repos/OWNER/REPO", "orgs/ORG" and
// "enterprises/SLUG". For each scope added with AddScope the server answers
//
//	GET    P/actions/runners                      list (per_page, page, name; Link header)
//	GET    P/actions/runners/{runner_id}          one runner
//	DELETE P/actions/runners/{runner_id}          remove (422 while busy)
//	POST   P/actions/runners/registration-token   token for config.sh
//	POST   P/actions/runners/remove-token         token for config.sh remove
//	POST   P/actions/runners/generate-jitconfig   register an ephemeral runner
//	GET    P/actions/runner-groups                orgs and enterprises only
//	GET    P/installation                         repos and orgs, with an App JWT
//
// and, for GitHub Apps, POST /app/installations/{id}/access_tokens.
// Everything else is 404, as is a scope that was never added.
//
// Three kinds of credentials are accepted: personal access tokens
// (AddToken) allowed everywhere; App JWTs (AddApp), RS256 and checked the
// way GitHub checks them, only on the App endpoints; and the installation
// tokens those JWTs obtain (AddInstallation), limited to their account and
// their permissions.
//
// # What is strict
//
// The server answers as GitHub does, with GitHub's status codes and
// messages, wherever a client could get something wrong: credentials and
// their permissions (403 with X-Accepted-GitHub-Permissions), JWT claims,
// Content-Type, Accept and X-GitHub-Api-Version headers, malformed JSON,
// and the generate-jitconfig body (required fields, types, 1 to 100
// labels, an existing runner group, a name not taken). In two places it is
// stricter than GitHub, to catch typos in clients: unknown JSON fields and
// unknown query parameters are rejected (422) rather than ignored, and so
// are page and per_page values that are not positive integers.
//
// Every response carries X-GitHub-Request-Id and the rate-limit headers,
// counting down per credential (5000 an hour, 60 unauthenticated).
// Failures queued with Fail are served before anything else, to test a
// client's retries.
//
// Where GitHub's answer is not documented, the server picks one and keeps
// to it: an installation token on another owner's repository is 404 (as
// for a private repository one cannot see), on another organization or an
// enterprise 403 "Resource not accessible by integration"; an App JWT on
// a token endpoint is 403 likewise; a JWT's exp may be at most 10 minutes
// after its iat and after now; runner names conflict regardless of case,
// while the name filter of the list is exact.
//
// The encoded JIT config is not GitHub's (which only the runner
// application reads): it is base64 of JSON this package chose, decoded by
// DecodeJITConfig.
package githubtest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// docsURL is the documentation_url of GitHub's generic error answers.
const docsURL = "https://docs.github.com/rest"

// apiVersions are the X-GitHub-Api-Version values GitHub accepts.
var apiVersions = []string{"2022-11-28", "2026-03-10"}

// Server is a local GitHub API. Its methods set up and inspect its state;
// they are safe to call while requests are served.
type Server struct {
	// URL is the API's base URL, without a trailing slash, e.g.
	// "http://127.0.0.1:41234".
	URL string

	// Now is the server's clock, for JWTs, token expiry and rate-limit
	// windows; nil is time.Now. Set it between requests, not during one.
	Now func() time.Time

	t  testing.TB
	mu sync.Mutex // guards everything below

	scopes        map[string]*scope // by key(scope name)
	nextRunnerID  int64
	nextGroupID   int64
	labelIDs      map[string]int64 // by lower-cased label name
	pats          map[string]bool
	apps          map[int64]*app
	installations map[int64]*installation
	instTokens    map[string]*installationToken
	issued        int
	failures      []Failure
	requests      []string
	requestSeq    int
	buckets       map[string]*bucket
	after         func(line string)
}

// New starts a server on 127.0.0.1; it is closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		t:             t,
		scopes:        map[string]*scope{},
		nextRunnerID:  1,
		nextGroupID:   2, // 1 is every scope's Default group
		labelIDs:      map[string]int64{},
		pats:          map[string]bool{},
		apps:          map[int64]*app{},
		installations: map[int64]*installation{},
		instTokens:    map[string]*installationToken{},
		buckets:       map[string]*bucket{},
	}
	ts := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

// Fail queues failures: each next API request, whatever it asks, gets the
// next one instead of its answer.
func (s *Server) Fail(responses ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, responses...)
}

// AfterRequest sets a function called after each request was handled,
// with the request as Requests shows it, before the client reads the
// answer: the state already shows the request's effect. A test acts there
// at an exact point of a client's conversation (kills the client after
// its first deletion, say). It runs outside the server's lock, so it may
// call the server's methods.
func (s *Server) AfterRequest(f func(line string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.after = f
}

// Requests returns every request received, in order, as
// "METHOD /path?query" (without "?" when there is no query), including
// the ones that failed.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// fatalf fails the test for a misuse of the set-up methods. The caller
// holds s.mu and unlocks it in a defer, which runs on t.Fatalf's Goexit.
func (s *Server) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("githubtest: "+format, args...)
}

// serve answers one API request. It holds the lock throughout: the state
// is small and in memory, and requests then see each other's effects in a
// simple order.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	line := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	// Deferred before the lock's release, so it runs after it.
	var after func(string)
	defer func() {
		if after != nil {
			after(line)
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	after = s.after

	s.requests = append(s.requests, line)
	s.requestSeq++
	w.Header().Set("X-GitHub-Request-Id", fmt.Sprintf("GHTEST:%06X", s.requestSeq))

	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		f.write(w)
		return
	}

	// Bad credentials are refused whatever the path, as GitHub does; the
	// request then counts against the unauthenticated limit.
	cred, authErr := s.authenticate(r)
	if !s.spend(w, cred) {
		return
	}
	if authErr != nil {
		authErr.write(w)
		return
	}
	if !checkHeaders(w, r) {
		return
	}

	rt := s.route(r.Method, r.URL.Path)
	if rt == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	if !s.authorize(w, cred, rt) {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	rt.serve(&call{w: w, r: r, cred: cred, scope: rt.scope, body: body})
}

// call is one authorized request, handed to an endpoint.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	cred  credential
	scope *scope // nil on the /app endpoints
	body  []byte // the request's body, valid JSON when not empty
}

// route is an endpoint matched to a request.
type route struct {
	scope *scope // the scope in the path, if any
	jwt   bool   // authenticated with an App JWT, not a token
	write bool   // needs write permission (for installation tokens)
	serve func(*call)
}

// route matches method and path to an endpoint; nil means 404 (also for
// paths with "//" or a trailing "/", which match no endpoint).
func (s *Server) route(method, path string) *route {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(segs) == 4 && segs[0] == "app" && segs[1] == "installations" && segs[3] == "access_tokens" {
		if method != http.MethodPost {
			return nil
		}
		id := segs[2]
		return &route{jwt: true, write: true, serve: func(c *call) { s.createInstallationToken(c, id) }}
	}

	var n int // how many segments name the scope
	switch segs[0] {
	case "repos":
		n = 3
	case "orgs", "enterprises":
		n = 2
	default:
		return nil
	}
	if len(segs) <= n {
		return nil
	}
	sc := s.scopes[key(strings.Join(segs[:n], "/"))]
	if sc == nil {
		return nil
	}
	rest := strings.Join(segs[n:], "/")
	get := method == http.MethodGet
	post := method == http.MethodPost
	rt := &route{scope: sc, write: !get}
	switch {
	case rest == "actions/runners" && get:
		rt.serve = s.listRunners
	case rest == "actions/runners/registration-token" && post:
		rt.serve = s.registrationToken
	case rest == "actions/runners/remove-token" && post:
		rt.serve = s.registrationToken
	case rest == "actions/runners/generate-jitconfig" && post:
		rt.serve = s.generateJITConfig
	case rest == "actions/runner-groups" && get && sc.kind != repoScope:
		rt.serve = s.listRunnerGroups
	case rest == "installation" && get && sc.kind != enterpriseScope:
		rt.jwt = true
		rt.serve = s.getInstallation
	case len(segs) == n+3 && segs[n] == "actions" && segs[n+1] == "runners" && isID(segs[n+2]):
		id := segs[n+2]
		switch method {
		case http.MethodGet:
			rt.serve = func(c *call) { s.getRunner(c, id) }
		case http.MethodDelete:
			rt.serve = func(c *call) { s.deleteRunner(c, id) }
		default:
			return nil
		}
	default:
		return nil
	}
	return rt
}

// checkHeaders refuses an X-GitHub-Api-Version GitHub does not know (400)
// and an Accept header that does not allow JSON (415), as GitHub does.
func checkHeaders(w http.ResponseWriter, r *http.Request) bool {
	if versions, ok := r.Header["X-Github-Api-Version"]; ok {
		for _, v := range versions {
			if !slices.Contains(apiVersions, v) {
				writeErrorDoc(w, http.StatusBadRequest,
					fmt.Sprintf("API version %q is not supported: use one of %s.", v, strings.Join(apiVersions, ", ")),
					"https://docs.github.com/rest/about-the-rest-api/api-versions")
				return false
			}
		}
	}
	if accept := r.Header.Values("Accept"); len(accept) > 0 && !acceptsJSON(accept) {
		writeError(w, http.StatusUnsupportedMediaType,
			fmt.Sprintf("Unsupported 'Accept' header: %q. Must accept 'application/json'.", strings.Join(accept, ", ")))
		return false
	}
	return true
}

// acceptsJSON says whether any media range of the Accept header values
// admits GitHub's JSON.
func acceptsJSON(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			switch mt {
			case "application/vnd.github+json", "application/vnd.github.v3+json", "application/json", "*/*":
				return true
			}
		}
	}
	return false
}

// readBody reads a request's body. A POST body must be sent as
// application/json (415 otherwise) and be JSON (400 otherwise). Bodies of
// other methods are ignored, as GitHub ignores them.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Method != http.MethodPost {
		return nil, true
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Problems reading the request body: "+err.Error())
		return nil, false
	}
	if len(body) == 0 {
		return nil, true
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf(
			"Unsupported 'Content-Type' header: %q. A request body must be sent as 'application/json'.", r.Header.Get("Content-Type")))
		return nil, false
	}
	if !json.Valid(body) {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return nil, false
	}
	return body, true
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only the package's own types are marshalled
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	w.WriteHeader(status)
	w.Write(b)
}

// writeError answers with GitHub's error shape.
func writeError(w http.ResponseWriter, status int, message string) {
	writeErrorDoc(w, status, message, docsURL)
}

func writeErrorDoc(w http.ResponseWriter, status int, message, doc string) {
	writeJSON(w, status, map[string]string{"message": message, "documentation_url": doc})
}

// apiError is an error answer decided before it can be written.
type apiError struct {
	status  int
	message string
}

func (e *apiError) write(w http.ResponseWriter) { writeError(w, e.status, e.message) }

// newToken returns a random token with the given prefix.
func newToken(prefix string) string { return prefix + rand.Text() }

// rfc3339 formats a time as GitHub does in expires_at.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
