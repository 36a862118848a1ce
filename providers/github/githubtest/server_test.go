package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	pat  = "ghp_test"
	auth = "Bearer " + pat
	repo = "/repos/acme/widgets"
	org  = "/orgs/acme"
	ent  = "/enterprises/bigco"
)

// t0 is the fixed clock of the tests that need one.
var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// newServer returns a server with a token and a repository, organization
// and enterprise, its clock at t0.
func newServer(t *testing.T) *Server {
	s := New(t)
	s.Now = func() time.Time { return t0 }
	s.AddToken(pat)
	s.AddScope("repos/acme/widgets")
	s.AddScope("orgs/acme")
	s.AddScope("enterprises/bigco")
	return s
}

// request is one plain HTTP request to the server.
type request struct {
	method, path string
	auth         string            // the Authorization header; none when ""
	body         string            // sent as application/json unless header says otherwise
	header       map[string]string // extra headers
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, s *Server, rq request) response {
	t.Helper()
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	req, err := http.NewRequest(rq.method, s.URL+rq.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if rq.auth != "" {
		req.Header.Set("Authorization", rq.auth)
	}
	if rq.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range rq.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// get is an authenticated GET.
func get(t *testing.T, s *Server, path string) response {
	t.Helper()
	return do(t, s, request{method: "GET", path: path, auth: auth})
}

// want checks the status and, when msg is not "", that GitHub's error
// message contains it.
func (r response) want(t *testing.T, status int, msg string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if msg != "" && !strings.Contains(r.message(t), msg) {
		t.Fatalf("message %q, want it to contain %q", r.message(t), msg)
	}
}

func (r response) message(t *testing.T) string {
	t.Helper()
	var e struct {
		Message string `json:"message"`
		Doc     string `json:"documentation_url"`
	}
	r.decode(t, &e)
	if e.Doc == "" {
		t.Errorf("error %s has no documentation_url", r.body)
	}
	return e.Message
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// links parses a Link header into URLs by rel.
func links(t *testing.T, h http.Header) map[string]*url.URL {
	t.Helper()
	out := map[string]*url.URL{}
	if h.Get("Link") == "" {
		return out
	}
	for _, part := range strings.Split(h.Get("Link"), ", ") {
		target, rel, ok := strings.Cut(part, ">; rel=")
		if !ok || !strings.HasPrefix(target, "<") {
			t.Fatalf("malformed Link %q", h.Get("Link"))
		}
		u, err := url.Parse(strings.TrimPrefix(target, "<"))
		if err != nil {
			t.Fatal(err)
		}
		out[strings.Trim(rel, `"`)] = u
	}
	return out
}

type runnerList struct {
	TotalCount int          `json:"total_count"`
	Runners    []runnerJSON `json:"runners"`
}

func TestListRunnersFollowsEveryPageOnce(t *testing.T) {
	s := newServer(t)
	want := map[int64]bool{}
	for i := range 250 {
		want[s.AddRunner("repos/acme/widgets", Runner{Name: fmt.Sprintf("r%03d", i), Status: "online"})] = true
	}

	seen := map[int64]bool{}
	path := repo + "/actions/runners?per_page=100"
	var pages []map[string]*url.URL
	for path != "" {
		r := get(t, s, path)
		r.want(t, http.StatusOK, "")
		var list runnerList
		r.decode(t, &list)
		if list.TotalCount != 250 {
			t.Fatalf("total_count %d, want 250", list.TotalCount)
		}
		for _, rn := range list.Runners {
			if seen[rn.ID] {
				t.Fatalf("runner %d on two pages", rn.ID)
			}
			seen[rn.ID] = true
		}
		l := links(t, r.header)
		pages = append(pages, l)
		path = ""
		if next := l["next"]; next != nil {
			if got := next.Scheme + "://" + next.Host; got != s.URL {
				t.Fatalf("next link on %s, want the server's URL %s", got, s.URL)
			}
			if next.Query().Get("per_page") != "100" {
				t.Fatalf("next link %s lost per_page", next)
			}
			path = next.RequestURI()
		}
	}
	if !maps.Equal(seen, want) {
		t.Fatalf("pages listed %d runners, want the 250 added", len(seen))
	}
	if len(pages) != 3 {
		t.Fatalf("%d pages, want 3", len(pages))
	}
	first, last := pages[0], pages[2]
	if first["prev"] != nil || first["first"] != nil || first["last"].Query().Get("page") != "3" {
		t.Errorf("first page's links %v: want next and last=3 only", first)
	}
	if last["next"] != nil || last["prev"].Query().Get("page") != "2" || last["first"].Query().Get("page") != "1" {
		t.Errorf("last page's links %v: want prev=2 and first=1 only", last)
	}

	// Defaults and caps: 30 a page by default, at most 100.
	var list runnerList
	r := get(t, s, repo+"/actions/runners")
	r.decode(t, &list)
	if len(list.Runners) != 30 || links(t, r.header)["last"].Query().Get("page") != "9" {
		t.Errorf("default page: %d runners, links %s; want 30 and last=9", len(list.Runners), r.header.Get("Link"))
	}
	get(t, s, repo+"/actions/runners?per_page=500").decode(t, &list)
	if len(list.Runners) != 100 {
		t.Errorf("per_page=500 gave %d runners, want 100 (capped)", len(list.Runners))
	}
	get(t, s, repo+"/actions/runners?per_page=100&page=4").decode(t, &list)
	if len(list.Runners) != 0 || list.TotalCount != 250 {
		t.Errorf("page past the end: %d runners, total %d; want 0 and 250", len(list.Runners), list.TotalCount)
	}
}

func TestListRunnersByName(t *testing.T) {
	s := newServer(t)
	s.AddRunner("repos/acme/widgets", Runner{Name: "alpha"})
	id := s.AddRunner("repos/acme/widgets", Runner{Name: "beta", Labels: []string{"self-hosted", "gpu"}})

	var list runnerList
	get(t, s, repo+"/actions/runners?name=beta").decode(t, &list)
	if list.TotalCount != 1 || len(list.Runners) != 1 || list.Runners[0].ID != id {
		t.Fatalf("name=beta listed %+v, want runner %d only", list, id)
	}
	wantLabels := []labelJSON{{ID: 1, Name: "self-hosted", Type: "read-only"}, {ID: 2, Name: "gpu", Type: "custom"}}
	if got := list.Runners[0].Labels; !reflect.DeepEqual(got, wantLabels) {
		t.Errorf("labels %+v, want %+v", got, wantLabels)
	}
	for _, name := range []string{"BETA", "bet", "gamma"} {
		get(t, s, repo+"/actions/runners?name="+name).decode(t, &list)
		if list.TotalCount != 0 || len(list.Runners) != 0 {
			t.Errorf("name=%s listed %+v, want none (exact names)", name, list)
		}
	}
}

func TestListRejectsBadQueries(t *testing.T) {
	s := newServer(t)
	for _, q := range []string{"per_page=abc", "page=0", "per_page=-5", "perpage=100", "name=x&label=y"} {
		get(t, s, repo+"/actions/runners?"+q).want(t, http.StatusUnprocessableEntity, "Invalid request.")
	}
}

func TestGetRunner(t *testing.T) {
	s := newServer(t)
	id := s.AddRunner("orgs/acme", Runner{Name: "a", OS: "linux", Status: "online", Busy: true})
	var rn runnerJSON
	r := get(t, s, fmt.Sprintf("%s/actions/runners/%d", org, id))
	r.want(t, http.StatusOK, "")
	r.decode(t, &rn)
	if rn.ID != id || rn.Name != "a" || rn.Status != "online" || !rn.Busy || rn.RunnerGroupID != 1 {
		t.Errorf("runner %+v, want a, online, busy, in group 1", rn)
	}
	get(t, s, fmt.Sprintf("%s/actions/runners/%d", org, id+1)).want(t, http.StatusNotFound, "Not Found")
	// The runner is the organization's, not the repository's.
	get(t, s, fmt.Sprintf("%s/actions/runners/%d", repo, id)).want(t, http.StatusNotFound, "Not Found")
	get(t, s, org+"/actions/runners/abc").want(t, http.StatusNotFound, "Not Found")
}

func TestDeleteRunner(t *testing.T) {
	s := newServer(t)
	idle := s.AddRunner("repos/acme/widgets", Runner{Name: "idle"})
	busy := s.AddRunner("repos/acme/widgets", Runner{Name: "busy", Status: "online", Busy: true})
	del := func(id int64) response {
		return do(t, s, request{method: "DELETE", path: fmt.Sprintf("%s/actions/runners/%d", repo, id), auth: auth})
	}

	r := del(idle)
	r.want(t, http.StatusNoContent, "")
	if len(r.body) != 0 || r.header.Get("Content-Type") != "" {
		t.Errorf("204 with body %q, Content-Type %q; want neither", r.body, r.header.Get("Content-Type"))
	}
	if r.header.Get("X-GitHub-Request-Id") == "" || r.header.Get("X-RateLimit-Remaining") == "" {
		t.Errorf("204 without the request ID and rate-limit headers: %v", r.header)
	}
	del(idle).want(t, http.StatusNotFound, "Not Found")

	del(busy).want(t, http.StatusUnprocessableEntity, "still running a job")
	if rs := s.Runners("repos/acme/widgets"); len(rs) != 1 || rs[0].ID != busy {
		t.Fatalf("runners %+v, want the busy one only", rs)
	}
	s.SetRunner("repos/acme/widgets", busy, "online", false)
	del(busy).want(t, http.StatusNoContent, "")
	if rs := s.Runners("repos/acme/widgets"); len(rs) != 0 {
		t.Fatalf("runners %+v after deleting all", rs)
	}
}

// AfterRequest sees each request once it was handled, and may use the
// server: a deleted runner is already gone.
func TestAfterRequest(t *testing.T) {
	s := newServer(t)
	id := s.AddRunner("repos/acme/widgets", Runner{Name: "idle"})
	var mu sync.Mutex
	var seen []string
	s.AfterRequest(func(line string) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s (%d runners)", line, len(s.Runners("repos/acme/widgets"))))
	})
	do(t, s, request{method: "DELETE", path: fmt.Sprintf("%s/actions/runners/%d", repo, id), auth: auth}).want(t, http.StatusNoContent, "")
	mu.Lock()
	defer mu.Unlock()
	if want := fmt.Sprintf("DELETE %s/actions/runners/%d (0 runners)", repo, id); len(seen) != 1 || seen[0] != want {
		t.Errorf("AfterRequest saw %q, want %q", seen, want)
	}
}

func TestRegistrationAndRemoveTokens(t *testing.T) {
	s := newServer(t)
	tokens := map[string]bool{}
	for _, path := range []string{repo, org, ent} {
		for _, kind := range []string{"registration-token", "remove-token"} {
			r := do(t, s, request{method: "POST", path: path + "/actions/runners/" + kind, auth: auth})
			r.want(t, http.StatusCreated, "")
			var tok struct {
				Token     string `json:"token"`
				ExpiresAt string `json:"expires_at"`
			}
			r.decode(t, &tok)
			if tok.Token == "" || tokens[tok.Token] {
				t.Errorf("%s %s: token %q, want a new one", path, kind, tok.Token)
			}
			tokens[tok.Token] = true
			if want := t0.Add(time.Hour).Format(time.RFC3339); tok.ExpiresAt != want {
				t.Errorf("%s %s: expires_at %q, want %q", path, kind, tok.ExpiresAt, want)
			}
		}
	}
	// They take no parameters.
	do(t, s, request{method: "POST", path: repo + "/actions/runners/registration-token", auth: auth, body: `{"name":"x"}`}).
		want(t, http.StatusUnprocessableEntity, `"name" is not a permitted key.`)
	do(t, s, request{method: "GET", path: repo + "/actions/runners/registration-token", auth: auth}).
		want(t, http.StatusNotFound, "Not Found")
}

type jitAnswer struct {
	Runner  runnerJSON `json:"runner"`
	Encoded string     `json:"encoded_jit_config"`
}

func TestGenerateJITConfig(t *testing.T) {
	s := newServer(t)
	r := do(t, s, request{method: "POST", path: repo + "/actions/runners/generate-jitconfig", auth: auth,
		body: `{"name":"ci-1","runner_group_id":1,"labels":["gpu","big","self-hosted"]}`})
	r.want(t, http.StatusCreated, "")
	var got jitAnswer
	r.decode(t, &got)

	wantLabels := []string{"self-hosted", "Linux", "X64", "gpu", "big"}
	var names, types []string
	for _, l := range got.Runner.Labels {
		names, types = append(names, l.Name), append(types, l.Type)
	}
	if !slices.Equal(names, wantLabels) || !slices.Equal(types, []string{"read-only", "read-only", "read-only", "custom", "custom"}) {
		t.Errorf("labels %v (%v), want %v, the defaults read-only", names, types, wantLabels)
	}
	if got.Runner.Name != "ci-1" || got.Runner.Status != "offline" || got.Runner.Busy || !got.Runner.Ephemeral || got.Runner.RunnerGroupID != 1 {
		t.Errorf("runner %+v: want ci-1, offline, idle, ephemeral, group 1", got.Runner)
	}
	cfg, err := DecodeJITConfig(got.Encoded)
	if err != nil {
		t.Fatal(err)
	}
	want := JITConfig{RunnerID: got.Runner.ID, Name: "ci-1", Labels: wantLabels, GroupID: 1, WorkFolder: "_work", Scope: "repos/acme/widgets"}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("JIT config %+v, want %+v", cfg, want)
	}
	rs := s.Runners("repos/acme/widgets")
	if len(rs) != 1 || rs[0].ID != got.Runner.ID || rs[0].Status != "offline" || !rs[0].Ephemeral || !slices.Equal(rs[0].Labels, wantLabels) {
		t.Errorf("runners %+v, want the JIT runner, offline", rs)
	}

	// An organization's own group, a work folder, and exactly 100 labels.
	gpu := s.AddRunnerGroup("orgs/acme", "gpu")
	labels := make([]string, 100)
	for i := range labels {
		labels[i] = fmt.Sprintf("l%d", i)
	}
	body, _ := json.Marshal(map[string]any{"name": "ci-2", "runner_group_id": gpu, "labels": labels, "work_folder": "w"})
	r = do(t, s, request{method: "POST", path: org + "/actions/runners/generate-jitconfig", auth: auth, body: string(body)})
	r.want(t, http.StatusCreated, "")
	r.decode(t, &got)
	if cfg, err = DecodeJITConfig(got.Encoded); err != nil {
		t.Fatal(err)
	}
	if cfg.GroupID != gpu || cfg.WorkFolder != "w" || cfg.Scope != "orgs/acme" || len(cfg.Labels) != 103 {
		t.Errorf("JIT config %+v: want group %d, work folder w, orgs/acme, 3+100 labels", cfg, gpu)
	}
}

func TestGenerateJITConfigRejections(t *testing.T) {
	s := newServer(t)
	s.AddRunner("repos/acme/widgets", Runner{Name: "taken"})
	orgGroup := s.AddRunnerGroup("orgs/acme", "gpu")
	labels101 := `"l"` + strings.Repeat(`,"l"`, 100)

	for _, tc := range []struct {
		name, path, body, contentType string
		status                        int
		msg                           string
	}{
		{"missing runner_group_id", repo, `{"name":"a","labels":["x"]}`, "", 422, `"runner_group_id" wasn't supplied.`},
		{"missing name", repo, `{"runner_group_id":1,"labels":["x"]}`, "", 422, `"name" wasn't supplied.`},
		{"missing labels", repo, `{"name":"a","runner_group_id":1}`, "", 422, `"labels" wasn't supplied.`},
		{"no body", repo, ``, "", 422, `"name" wasn't supplied.`},
		{"empty name", repo, `{"name":"","runner_group_id":1,"labels":["x"]}`, "", 422, "too short"},
		{"null name", repo, `{"name":null,"runner_group_id":1,"labels":["x"]}`, "", 422, "null is not a string"},
		{"0 labels", repo, `{"name":"a","runner_group_id":1,"labels":[]}`, "", 422, "fewer items than 1"},
		{"101 labels", repo, `{"name":"a","runner_group_id":1,"labels":[` + labels101 + `]}`, "", 422, "more items than 100"},
		{"empty label", repo, `{"name":"a","runner_group_id":1,"labels":["x",""]}`, "", 422, "too short"},
		{"label not a string", repo, `{"name":"a","runner_group_id":1,"labels":[5]}`, "", 422, "5 is not a string"},
		{"labels not an array", repo, `{"name":"a","runner_group_id":1,"labels":"x"}`, "", 422, "is not an array"},
		{"group as a string", repo, `{"name":"a","runner_group_id":"1","labels":["x"]}`, "", 422, `"1" is not an integer`},
		{"group as a fraction", repo, `{"name":"a","runner_group_id":1.5,"labels":["x"]}`, "", 422, "1.5 is not an integer"},
		{"unknown field", repo, `{"name":"a","runner_group_id":1,"labels":["x"],"label":"y"}`, "", 422, `"label" is not a permitted key.`},
		{"not an object", repo, `["a"]`, "", 422, "array is not an object"},
		{"wrong content type", repo, `{"name":"a","runner_group_id":1,"labels":["x"]}`, "text/plain", 415, "Content-Type"},
		{"no content type", repo, `{"name":"a","runner_group_id":1,"labels":["x"]}`, "-", 415, "Content-Type"},
		{"bad JSON", repo, `{"name":"a",`, "", 400, "Problems parsing JSON"},
		{"unknown group", org, `{"name":"a","runner_group_id":99,"labels":["x"]}`, "", 404, "Runner group 99 not found"},
		{"org's group in a repo", repo, fmt.Sprintf(`{"name":"a","runner_group_id":%d,"labels":["x"]}`, orgGroup), "", 404, "not found"},
		{"duplicate name", repo, `{"name":"taken","runner_group_id":1,"labels":["x"]}`, "", 409, "already exists"},
		{"duplicate name, other case", repo, `{"name":"TAKEN","runner_group_id":1,"labels":["x"]}`, "", 409, "already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rq := request{method: "POST", path: tc.path + "/actions/runners/generate-jitconfig", auth: auth, body: tc.body}
			switch tc.contentType {
			case "-":
				rq.header = map[string]string{"Content-Type": ""}
			case "":
			default:
				rq.header = map[string]string{"Content-Type": tc.contentType}
			}
			do(t, s, rq).want(t, tc.status, tc.msg)
		})
	}
	if rs := s.Runners("repos/acme/widgets"); len(rs) != 1 {
		t.Errorf("rejected requests registered runners: %+v", rs)
	}
	if rs := s.Runners("orgs/acme"); len(rs) != 0 {
		t.Errorf("rejected requests registered runners: %+v", rs)
	}
}

func TestAuthentication(t *testing.T) {
	s := newServer(t)
	list := repo + "/actions/runners"
	do(t, s, request{method: "GET", path: list}).want(t, http.StatusUnauthorized, "Requires authentication")
	do(t, s, request{method: "GET", path: list, auth: "Bearer nope"}).want(t, http.StatusUnauthorized, "Bad credentials")
	do(t, s, request{method: "GET", path: list, auth: "Basic " + pat}).want(t, http.StatusUnauthorized, "Bad credentials")
	do(t, s, request{method: "GET", path: list, auth: "Bearer"}).want(t, http.StatusUnauthorized, "Bad credentials")
	do(t, s, request{method: "GET", path: list, auth: "token " + pat}).want(t, http.StatusOK, "")
	do(t, s, request{method: "GET", path: list, auth: auth}).want(t, http.StatusOK, "")
	// Bad credentials are refused before the path is looked at.
	do(t, s, request{method: "GET", path: "/nowhere", auth: "Bearer nope"}).want(t, http.StatusUnauthorized, "Bad credentials")

	for _, path := range []string{"/nowhere", "/repos/acme/gadgets/actions/runners", "/orgs/other/actions/runners",
		list + "/", "/repos/acme//actions/runners", repo + "/actions/runner-groups", ent + "/installation"} {
		get(t, s, path).want(t, http.StatusNotFound, "Not Found")
	}
	do(t, s, request{method: "PUT", path: list, auth: auth}).want(t, http.StatusNotFound, "Not Found")
	// Owner and organization names are not case sensitive.
	get(t, s, "/repos/ACME/Widgets/actions/runners").want(t, http.StatusOK, "")
}

func TestRequestHeaders(t *testing.T) {
	s := newServer(t)
	list := repo + "/actions/runners"
	try := func(name, value string) response {
		return do(t, s, request{method: "GET", path: list, auth: auth, header: map[string]string{name: value}})
	}
	try("X-GitHub-Api-Version", "2022-11-28").want(t, http.StatusOK, "")
	try("X-GitHub-Api-Version", "2026-03-10").want(t, http.StatusOK, "")
	try("X-GitHub-Api-Version", "2021-01-01").want(t, http.StatusBadRequest, `"2021-01-01" is not supported`)
	for _, ok := range []string{"application/vnd.github+json", "application/vnd.github.v3+json", "application/json", "*/*", "text/html, */*;q=0.1"} {
		try("Accept", ok).want(t, http.StatusOK, "")
	}
	try("Accept", "text/html").want(t, http.StatusUnsupportedMediaType, "Unsupported 'Accept' header")

	a, b := get(t, s, list), get(t, s, list)
	if ct := a.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if a.header.Get("X-GitHub-Request-Id") == "" || a.header.Get("X-GitHub-Request-Id") == b.header.Get("X-GitHub-Request-Id") {
		t.Errorf("request IDs %q and %q, want two different ones", a.header.Get("X-GitHub-Request-Id"), b.header.Get("X-GitHub-Request-Id"))
	}
}

func TestRateLimitHeaders(t *testing.T) {
	s := newServer(t)
	s.AddToken("other")
	list := repo + "/actions/runners"
	for i := 1; i <= 3; i++ {
		h := get(t, s, list).header
		want := map[string]string{
			"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": strconv.Itoa(5000 - i), "X-RateLimit-Used": strconv.Itoa(i),
			"X-RateLimit-Reset": strconv.FormatInt(t0.Add(time.Hour).Unix(), 10), "X-RateLimit-Resource": "core",
		}
		for k, v := range want {
			if h.Get(k) != v {
				t.Errorf("request %d: %s %q, want %q", i, k, h.Get(k), v)
			}
		}
	}
	if got := do(t, s, request{method: "GET", path: list, auth: "Bearer other"}).header.Get("X-RateLimit-Remaining"); got != "4999" {
		t.Errorf("another token's first request: remaining %s, want 4999 (limits are per token)", got)
	}

	// Unauthenticated requests get 60 an hour; the 61st is refused.
	for i := 1; i <= 60; i++ {
		r := do(t, s, request{method: "GET", path: list})
		r.want(t, http.StatusUnauthorized, "Requires authentication")
		if r.header.Get("X-RateLimit-Limit") != "60" || r.header.Get("X-RateLimit-Remaining") != strconv.Itoa(60-i) {
			t.Fatalf("unauthenticated request %d: limit %s, remaining %s", i, r.header.Get("X-RateLimit-Limit"), r.header.Get("X-RateLimit-Remaining"))
		}
	}
	r := do(t, s, request{method: "GET", path: list})
	r.want(t, http.StatusForbidden, "API rate limit exceeded")
	if r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("remaining %s when exhausted, want 0", r.header.Get("X-RateLimit-Remaining"))
	}
	s.Now = func() time.Time { return t0.Add(time.Hour) }
	do(t, s, request{method: "GET", path: list}).want(t, http.StatusUnauthorized, "Requires authentication")
}

func TestQueuedFailures(t *testing.T) {
	s := newServer(t)
	reset := t0.Add(17 * time.Minute)
	s.Fail(ServerError(502), SecondaryRateLimit(90*time.Second), PrimaryRateLimit(reset), SecondaryRateLimit(1500*time.Millisecond))
	list := repo + "/actions/runners?per_page=5"

	// Served before anything else: even without credentials.
	r := do(t, s, request{method: "GET", path: list})
	r.want(t, http.StatusBadGateway, "Bad Gateway")
	if r.header.Get("Content-Type") != "application/json; charset=utf-8" || r.header.Get("X-GitHub-Request-Id") == "" {
		t.Errorf("failure headers %v", r.header)
	}
	r = do(t, s, request{method: "POST", path: repo + "/actions/runners/registration-token", auth: auth})
	r.want(t, http.StatusForbidden, "You have exceeded a secondary rate limit")
	if r.header.Get("Retry-After") != "90" {
		t.Errorf("Retry-After %q, want 90", r.header.Get("Retry-After"))
	}
	r = get(t, s, list)
	r.want(t, http.StatusForbidden, "API rate limit exceeded")
	if r.header.Get("X-RateLimit-Remaining") != "0" || r.header.Get("X-RateLimit-Reset") != strconv.FormatInt(reset.Unix(), 10) {
		t.Errorf("primary limit headers: remaining %q, reset %q; want 0, %d",
			r.header.Get("X-RateLimit-Remaining"), r.header.Get("X-RateLimit-Reset"), reset.Unix())
	}
	if r = get(t, s, list); r.header.Get("Retry-After") != "2" {
		t.Errorf("Retry-After %q for 1.5 s, want 2 (whole seconds, rounded up)", r.header.Get("Retry-After"))
	}
	get(t, s, list).want(t, http.StatusOK, "")

	want := []string{"GET " + list, "POST " + repo + "/actions/runners/registration-token", "GET " + list, "GET " + list, "GET " + list}
	if got := s.Requests(); !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}

	defer func() {
		if recover() == nil {
			t.Error("ServerError(404) did not panic")
		}
	}()
	ServerError(404)
}

func TestRunnerGroups(t *testing.T) {
	s := newServer(t)
	gpu := s.AddRunnerGroup("orgs/acme", "gpu")
	big := s.AddRunnerGroup("enterprises/bigco", "big")
	if gpu != 2 || big != 3 {
		t.Fatalf("group IDs %d, %d; want 2, 3 (unique across the server)", gpu, big)
	}
	type group struct {
		ID                       int64  `json:"id"`
		Name                     string `json:"name"`
		Visibility               string `json:"visibility"`
		Default                  bool   `json:"default"`
		RunnersURL               string `json:"runners_url"`
		AllowsPublicRepositories bool   `json:"allows_public_repositories"`
		RestrictedToWorkflows    bool   `json:"restricted_to_workflows"`
	}
	var list struct {
		TotalCount   int     `json:"total_count"`
		RunnerGroups []group `json:"runner_groups"`
	}
	get(t, s, org+"/actions/runner-groups?visible_to_repository=widgets").decode(t, &list)
	want := []group{
		{ID: 1, Name: "Default", Visibility: "all", Default: true, RunnersURL: s.URL + "/orgs/acme/actions/runner-groups/1/runners"},
		{ID: gpu, Name: "gpu", Visibility: "all", RunnersURL: s.URL + "/orgs/acme/actions/runner-groups/2/runners"},
	}
	if list.TotalCount != 2 || !reflect.DeepEqual(list.RunnerGroups, want) {
		t.Errorf("org groups %+v, want %+v", list, want)
	}

	r := get(t, s, ent+"/actions/runner-groups?per_page=1&page=2")
	r.decode(t, &list)
	if list.TotalCount != 2 || len(list.RunnerGroups) != 1 || list.RunnerGroups[0].ID != big {
		t.Errorf("enterprise page 2: %+v, want group %d", list, big)
	}
	if l := links(t, r.header); l["prev"] == nil || l["first"] == nil || l["next"] != nil {
		t.Errorf("enterprise page 2 of 2: links %q, want prev and first", r.header.Get("Link"))
	}
	get(t, s, ent+"/actions/runner-groups?visible_to_repository=x").want(t, http.StatusUnprocessableEntity, "not a permitted query parameter")
}

// newApp adds App appID with a new key, and returns the key.
func newApp(t *testing.T, s *Server, appID int64) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s.AddApp(appID, &key.PublicKey)
	return key
}

// jwtAuth is the Authorization header of a JWT GitHub's way: a minute
// back for clock skew, 9 minutes ahead.
func jwtAuth(key *rsa.PrivateKey, appID int64) string {
	return "Bearer " + SignJWT(key, appID, t0.Add(-time.Minute), t0.Add(9*time.Minute))
}

type tokenAnswer struct {
	Token       string            `json:"token"`
	ExpiresAt   string            `json:"expires_at"`
	Permissions map[string]string `json:"permissions"`
	Selection   string            `json:"repository_selection"`
}

// newInstallationToken gets a token for an installation.
func newInstallationToken(t *testing.T, s *Server, jwt string, id int64, body string) tokenAnswer {
	t.Helper()
	r := do(t, s, request{method: "POST", path: fmt.Sprintf("/app/installations/%d/access_tokens", id), auth: jwt, body: body})
	r.want(t, http.StatusCreated, "")
	var tok tokenAnswer
	r.decode(t, &tok)
	return tok
}

func TestAppInstallationFlow(t *testing.T) {
	s := newServer(t)
	key := newApp(t, s, 42)
	perms := map[string]string{"administration": "write", "organization_self_hosted_runners": "read"}
	s.AddInstallation(42, 1001, "acme", perms)
	s.AddScope("orgs/other")
	jwt := jwtAuth(key, 42)

	var in struct {
		ID      int64 `json:"id"`
		AppID   int64 `json:"app_id"`
		Account struct {
			Login string `json:"login"`
		} `json:"account"`
		Permissions map[string]string `json:"permissions"`
	}
	for _, path := range []string{repo + "/installation", org + "/installation"} {
		r := do(t, s, request{method: "GET", path: path, auth: jwt})
		r.want(t, http.StatusOK, "")
		r.decode(t, &in)
		if in.ID != 1001 || in.AppID != 42 || in.Account.Login != "acme" || !maps.Equal(in.Permissions, perms) {
			t.Errorf("%s: %+v", path, in)
		}
	}
	do(t, s, request{method: "GET", path: "/orgs/other/installation", auth: jwt}).want(t, http.StatusNotFound, "Not Found")
	get(t, s, repo+"/installation").want(t, http.StatusUnauthorized, "A JSON web token could not be decoded")

	tok := newInstallationToken(t, s, jwt, 1001, "")
	if !strings.HasPrefix(tok.Token, "ghs_") || tok.ExpiresAt != t0.Add(time.Hour).Format(time.RFC3339) ||
		!maps.Equal(tok.Permissions, perms) || tok.Selection != "all" {
		t.Errorf("installation token %+v", tok)
	}
	if s.IssuedTokens() != 1 {
		t.Errorf("IssuedTokens() = %d, want 1", s.IssuedTokens())
	}
	as := "Bearer " + tok.Token
	do(t, s, request{method: "GET", path: repo + "/actions/runners", auth: as}).want(t, http.StatusOK, "")
	do(t, s, request{method: "POST", path: repo + "/actions/runners/generate-jitconfig", auth: as,
		body: `{"name":"a","runner_group_id":1,"labels":["x"]}`}).want(t, http.StatusCreated, "")
	do(t, s, request{method: "GET", path: org + "/actions/runners", auth: as}).want(t, http.StatusOK, "")
	do(t, s, request{method: "GET", path: org + "/actions/runner-groups", auth: as}).want(t, http.StatusOK, "")

	// Tokens are not JWTs and JWTs are not tokens.
	tokens := "/app/installations/1001/access_tokens"
	do(t, s, request{method: "POST", path: tokens, auth: auth}).want(t, http.StatusUnauthorized, "A JSON web token could not be decoded")
	do(t, s, request{method: "POST", path: tokens, auth: as}).want(t, http.StatusUnauthorized, "A JSON web token could not be decoded")
	do(t, s, request{method: "GET", path: repo + "/actions/runners", auth: jwt}).want(t, http.StatusForbidden, "Resource not accessible by integration")
	do(t, s, request{method: "POST", path: tokens, auth: "token " + SignJWT(key, 42, t0.Add(-time.Minute), t0.Add(9*time.Minute))}).
		want(t, http.StatusUnauthorized, "Bad credentials")

	// Unknown installations, and another App's.
	other := newApp(t, s, 43)
	s.AddInstallation(43, 2002, "acme", perms)
	do(t, s, request{method: "POST", path: "/app/installations/9999/access_tokens", auth: jwt}).want(t, http.StatusNotFound, "Not Found")
	do(t, s, request{method: "POST", path: "/app/installations/2002/access_tokens", auth: jwt}).want(t, http.StatusNotFound, "Not Found")
	newInstallationToken(t, s, jwtAuth(other, 43), 2002, "")
	if s.IssuedTokens() != 2 {
		t.Errorf("IssuedTokens() = %d, want 2", s.IssuedTokens())
	}

	// An installation token lasts an hour.
	s.Now = func() time.Time { return t0.Add(59 * time.Minute) }
	do(t, s, request{method: "GET", path: repo + "/actions/runners", auth: as}).want(t, http.StatusOK, "")
	s.Now = func() time.Time { return t0.Add(time.Hour) }
	do(t, s, request{method: "GET", path: repo + "/actions/runners", auth: as}).want(t, http.StatusUnauthorized, "Bad credentials")
}

func TestJWTChecks(t *testing.T) {
	s := newServer(t)
	key := newApp(t, s, 42)
	wrongKey := newApp(t, s, 99) // a real App's key, but not App 42's
	s.AddInstallation(42, 1001, "acme", map[string]string{"administration": "read"})
	rs256 := map[string]any{"alg": "RS256", "typ": "JWT"}
	claims := func(iss any, iat, exp time.Duration) map[string]any {
		return map[string]any{"iss": iss, "iat": t0.Add(iat).Unix(), "exp": t0.Add(exp).Unix()}
	}
	unsigned := func(header, claims map[string]any) string {
		seg := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
		return seg(header) + "." + seg(claims) + "."
	}

	for _, tc := range []struct {
		name   string
		jwt    string
		status int
		msg    string
	}{
		{"valid", SignJWT(key, 42, t0.Add(-time.Minute), t0.Add(9*time.Minute)), 200, ""},
		{"iss as a string", signJWT(key, rs256, claims("42", -time.Minute, 9*time.Minute)), 200, ""},
		{"iat within the skew", SignJWT(key, 42, t0.Add(30*time.Second), t0.Add(9*time.Minute)), 200, ""},
		{"exactly 10 minutes", SignJWT(key, 42, t0, t0.Add(10*time.Minute)), 200, ""},
		{"expired", SignJWT(key, 42, t0.Add(-11*time.Minute), t0.Add(-time.Minute)), 401, msgExpInvalid},
		{"exp now", SignJWT(key, 42, t0.Add(-time.Minute), t0), 401, msgExpInvalid},
		{"11 minutes long", SignJWT(key, 42, t0.Add(-time.Minute), t0.Add(10*time.Minute)), 401, msgExpTooFar},
		{"exp more than 10 minutes ahead", SignJWT(key, 42, t0.Add(50*time.Second), t0.Add(10*time.Minute+10*time.Second)), 401, msgExpTooFar},
		{"iat in the future", SignJWT(key, 42, t0.Add(2*time.Minute), t0.Add(5*time.Minute)), 401, msgIatInvalid},
		{"iat not an integer", signJWT(key, rs256, map[string]any{"iss": 42, "iat": 1.5, "exp": t0.Add(time.Minute).Unix()}), 401, msgIatInvalid},
		{"no exp", signJWT(key, rs256, map[string]any{"iss": 42, "iat": t0.Unix()}), 401, msgExpInvalid},
		{"another key", SignJWT(wrongKey, 42, t0.Add(-time.Minute), t0.Add(9*time.Minute)), 401, msgJWTUndecodable},
		{"HS256 header", signJWT(key, map[string]any{"alg": "HS256"}, claims(42, -time.Minute, 9*time.Minute)), 401, msgJWTUndecodable},
		{"alg none", unsigned(map[string]any{"alg": "none"}, claims(42, -time.Minute, 9*time.Minute)), 401, msgJWTUndecodable},
		{"not base64", "a.b.c", 401, msgJWTUndecodable},
		{"no iss", signJWT(key, rs256, map[string]any{"iat": t0.Unix(), "exp": t0.Add(time.Minute).Unix()}), 401, "'Issuer' claim"},
		{"client ID as iss", signJWT(key, rs256, claims("Iv1.abc", -time.Minute, 9*time.Minute)), 401, "'Issuer' claim"},
		{"unknown App", SignJWT(key, 77, t0.Add(-time.Minute), t0.Add(9*time.Minute)), 404, "Integration not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			do(t, s, request{method: "GET", path: repo + "/installation", auth: "Bearer " + tc.jwt}).want(t, tc.status, tc.msg)
		})
	}
	if s.IssuedTokens() != 0 {
		t.Errorf("IssuedTokens() = %d, want 0", s.IssuedTokens())
	}
}

func TestInstallationTokenPermissions(t *testing.T) {
	s := newServer(t)
	key := newApp(t, s, 42)
	jwt := jwtAuth(key, 42)
	s.AddScope("repos/acme/gadgets")
	s.AddScope("repos/other/thing")
	s.AddScope("orgs/other")
	s.AddInstallation(42, 1, "acme", map[string]string{"administration": "read"})
	s.AddInstallation(42, 2, "acme", map[string]string{"administration": "write", "organization_self_hosted_runners": "write"})

	as := "Bearer " + newInstallationToken(t, s, jwt, 1, "").Token
	call := func(method, path string) response { return do(t, s, request{method: method, path: path, auth: as}) }
	accepted := func(r response, want string) {
		t.Helper()
		r.want(t, http.StatusForbidden, "Resource not accessible by integration")
		if got := r.header.Get("X-Accepted-GitHub-Permissions"); got != want {
			t.Errorf("X-Accepted-GitHub-Permissions %q, want %q", got, want)
		}
	}
	call("GET", repo+"/actions/runners").want(t, http.StatusOK, "")
	accepted(call("POST", repo+"/actions/runners/registration-token"), "administration=write")
	accepted(call("DELETE", repo+"/actions/runners/5"), "administration=write")
	accepted(call("GET", org+"/actions/runners"), "organization_self_hosted_runners=read")
	accepted(call("GET", org+"/actions/runner-groups"), "organization_self_hosted_runners=read")
	call("GET", "/repos/other/thing/actions/runners").want(t, http.StatusNotFound, "Not Found")
	accepted(call("GET", "/orgs/other/actions/runners"), "")
	accepted(call("GET", ent+"/actions/runners"), "")

	// The write installation's tokens, narrowed on request.
	narrowed := newInstallationToken(t, s, jwt, 2, `{"permissions":{"administration":"read"},"repositories":["widgets"]}`)
	if narrowed.Selection != "selected" || !maps.Equal(narrowed.Permissions, map[string]string{"administration": "read"}) {
		t.Errorf("narrowed token %+v", narrowed)
	}
	as = "Bearer " + narrowed.Token
	call("GET", repo+"/actions/runners").want(t, http.StatusOK, "")
	accepted(call("POST", repo+"/actions/runners/registration-token"), "administration=write")
	call("GET", "/repos/acme/gadgets/actions/runners").want(t, http.StatusNotFound, "Not Found")
	accepted(call("GET", org+"/actions/runners"), "organization_self_hosted_runners=read")
	// The full ones may do everything but the enterprise's.
	as = "Bearer " + newInstallationToken(t, s, jwt, 2, "").Token
	call("POST", "/repos/acme/gadgets/actions/runners/registration-token").want(t, http.StatusCreated, "")
	call("POST", org+"/actions/runners/registration-token").want(t, http.StatusCreated, "")
	accepted(call("POST", ent+"/actions/runners/registration-token"), "")

	tokens := "/app/installations/1/access_tokens"
	for _, tc := range []struct{ body, msg string }{
		{`{"permissions":{"administration":"write"}}`, "not granted"},
		{`{"permissions":{"secrets":"read"}}`, "not granted"},
		{`{"repositories":["nope"]}`, "does not exist"},
		{`{"repository_ids":[1]}`, "repository_ids"},
		{`{"permission":{}}`, `"permission" is not a permitted key.`},
	} {
		do(t, s, request{method: "POST", path: tokens, auth: jwt, body: tc.body}).want(t, http.StatusUnprocessableEntity, tc.msg)
	}
	do(t, s, request{method: "POST", path: tokens, auth: jwt, body: `{}`, header: map[string]string{"Content-Type": "text/plain"}}).
		want(t, http.StatusUnsupportedMediaType, "Content-Type")
	if s.IssuedTokens() != 3 {
		t.Errorf("IssuedTokens() = %d, want 3 (refused requests issue none)", s.IssuedTokens())
	}
}

func TestDecodeJITConfigRejectsOthers(t *testing.T) {
	for _, enc := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte(`{"runner":{}}`)), ""} {
		if _, err := DecodeJITConfig(enc); err == nil {
			t.Errorf("DecodeJITConfig(%q) succeeded", enc)
		}
	}
}

func TestRunnersReturnsCopies(t *testing.T) {
	s := newServer(t)
	s.AddRunner("repos/acme/widgets", Runner{Name: "a", Labels: []string{"x"}})
	rs := s.Runners("repos/acme/widgets")
	rs[0].Labels[0], rs[0].Name = "changed", "changed"
	if again := s.Runners("repos/acme/widgets"); again[0].Name != "a" || again[0].Labels[0] != "x" {
		t.Errorf("changing a returned runner changed the server's: %+v", again[0])
	}
}
