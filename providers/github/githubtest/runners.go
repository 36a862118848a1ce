package githubtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// runnersDocs is the documentation_url of the runner endpoints' errors.
const runnersDocs = "https://docs.github.com/rest/actions/self-hosted-runners"

// Pagination, as GitHub documents it for these endpoints.
const (
	defaultPerPage = 30
	maxPerPage     = 100
)

// maxLabels is how many custom labels generate-jitconfig takes.
const maxLabels = 100

// pagination reads per_page and page from the query. Query parameters
// other than those and extra are refused, as are values that are not
// positive integers: GitHub would ignore them, hiding a client's typo.
func pagination(c *call, extra ...string) (perPage, page int, ok bool) {
	q := c.r.URL.Query()
	permitted := append([]string{"per_page", "page"}, extra...)
	var problems []string
	var names []string
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(permitted, name) {
			problems = append(problems, fmt.Sprintf("%q is not a permitted query parameter (permitted: %s).", name, strings.Join(permitted, ", ")))
		}
	}
	number := func(name string, def int) int {
		v := q.Get(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			problems = append(problems, fmt.Sprintf("For '%s', %q is not a positive integer.", name, v))
		}
		return n
	}
	perPage = min(number("per_page", defaultPerPage), maxPerPage)
	page = number("page", 1)
	if len(problems) > 0 {
		writeErrorDoc(c.w, http.StatusUnprocessableEntity, "Invalid request.\n\n"+strings.Join(problems, "\n"), runnersDocs)
		return 0, 0, false
	}
	return perPage, page, true
}

// pageOf returns the items of one page, and sets the Link header as
// GitHub does: prev, next, last and first, those that apply, as absolute
// URLs keeping the request's other query parameters.
func pageOf[T any](s *Server, c *call, items []T, perPage, page int) []T {
	last := max(1, (len(items)+perPage-1)/perPage)
	var links []string
	link := func(p int, rel string) {
		q := c.r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		links = append(links, fmt.Sprintf("<%s%s?%s>; rel=%q", s.URL, c.r.URL.Path, q.Encode(), rel))
	}
	if page > 1 {
		link(page-1, "prev")
	}
	if page < last {
		link(page+1, "next")
		link(last, "last")
	}
	if page > 1 {
		link(1, "first")
	}
	if len(links) > 0 {
		c.w.Header().Set("Link", strings.Join(links, ", "))
	}
	start := min((page-1)*perPage, len(items))
	end := min(start+perPage, len(items))
	return items[start:end]
}

// listRunners: GET P/actions/runners, with name filtering by exact name.
func (s *Server) listRunners(c *call) {
	perPage, page, ok := pagination(c, "name")
	if !ok {
		return
	}
	all := c.scope.sorted()
	if q := c.r.URL.Query(); q.Has("name") {
		all = slices.DeleteFunc(all, func(r *Runner) bool { return r.Name != q.Get("name") })
	}
	runners := []runnerJSON{}
	for _, r := range pageOf(s, c, all, perPage, page) {
		runners = append(runners, s.runnerJSON(r))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"total_count": len(all), "runners": runners})
}

// runner finds the runner of a path's runner_id, or answers 404.
func (s *Server) runner(c *call, id string) *Runner {
	n, _ := strconv.ParseInt(id, 10, 64) // the route checked it
	r := c.scope.runners[n]
	if r == nil {
		writeErrorDoc(c.w, http.StatusNotFound, "Not Found", runnersDocs)
	}
	return r
}

// getRunner: GET P/actions/runners/{runner_id}.
func (s *Server) getRunner(c *call, id string) {
	if r := s.runner(c, id); r != nil {
		writeJSON(c.w, http.StatusOK, s.runnerJSON(r))
	}
}

// deleteRunner: DELETE P/actions/runners/{runner_id}. GitHub refuses to
// remove a runner that is running a job.
func (s *Server) deleteRunner(c *call, id string) {
	r := s.runner(c, id)
	if r == nil {
		return
	}
	if r.Busy {
		writeErrorDoc(c.w, http.StatusUnprocessableEntity,
			fmt.Sprintf("Bad request - Runner %q is still running a job.", r.Name), runnersDocs)
		return
	}
	delete(c.scope.runners, r.ID)
	c.w.WriteHeader(http.StatusNoContent)
}

// registrationToken: POST P/actions/runners/registration-token and
// remove-token, which take no parameters.
func (s *Server) registrationToken(c *call) {
	if o := parseObject(c.body); !o.ok() {
		o.fail(c.w, runnersDocs)
		return
	}
	writeJSON(c.w, http.StatusCreated, map[string]string{
		"token":      newToken(""),
		"expires_at": rfc3339(s.now().Add(time.Hour)),
	})
}

// JITConfig is what this server encodes as a runner's encoded_jit_config
// (GitHub's own encoding is read only by the runner application).
type JITConfig struct {
	RunnerID   int64    `json:"runner_id"`
	Name       string   `json:"name"`
	Labels     []string `json:"labels"` // all the runner's labels: the read-only defaults, then the custom ones
	GroupID    int64    `json:"runner_group_id"`
	WorkFolder string   `json:"work_folder"`
	Scope      string   `json:"scope"` // as given to AddScope, e.g. "orgs/acme"
}

// DecodeJITConfig decodes an encoded_jit_config this server returned.
func DecodeJITConfig(encoded string) (JITConfig, error) {
	b, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return JITConfig{}, fmt.Errorf("githubtest: encoded JIT config is not base64: %w", err)
	}
	var cfg JITConfig
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return JITConfig{}, fmt.Errorf("githubtest: encoded JIT config is not this server's: %w", err)
	}
	return cfg, nil
}

// generateJITConfig: POST P/actions/runners/generate-jitconfig registers
// an ephemeral runner, offline until it connects.
func (s *Server) generateJITConfig(c *call) {
	const doc = runnersDocs + "#create-configuration-for-a-just-in-time-runner-for-a-repository"
	o := parseObject(c.body, "name", "runner_group_id", "labels", "work_folder")
	name, _ := o.str("name", true, true)
	group, _ := o.integer("runner_group_id", true)
	custom, _ := o.stringList("labels", true, 1, maxLabels)
	work, hasWork := o.str("work_folder", false, true)
	if !o.ok() {
		o.fail(c.w, doc)
		return
	}
	if !hasWork {
		work = "_work"
	}
	sc := c.scope
	if !sc.hasGroup(group) {
		writeErrorDoc(c.w, http.StatusNotFound, fmt.Sprintf("Runner group %d not found", group), doc)
		return
	}
	if sc.runnerNamed(name) != nil {
		writeErrorDoc(c.w, http.StatusConflict,
			fmt.Sprintf("Already exists - A runner with the name %q already exists.", name), doc)
		return
	}
	// Custom labels repeating a default one, or each other, are kept once
	// (labels are case-insensitive on GitHub).
	labels := slices.Clone(jitDefaultLabels)
	for _, l := range custom {
		if !slices.ContainsFunc(labels, func(have string) bool { return strings.EqualFold(have, l) }) {
			labels = append(labels, l)
		}
	}
	r := Runner{Name: name, OS: "linux", Status: "offline", Ephemeral: true, Labels: labels, GroupID: group}
	r.ID = s.register(sc, r)
	cfg, err := json.Marshal(JITConfig{RunnerID: r.ID, Name: name, Labels: labels, GroupID: group, WorkFolder: work, Scope: sc.name})
	if err != nil {
		panic(err)
	}
	writeJSON(c.w, http.StatusCreated, map[string]any{
		"runner":             s.runnerJSON(sc.runners[r.ID]),
		"encoded_jit_config": base64.StdEncoding.EncodeToString(cfg),
	})
}

// listRunnerGroups: GET /orgs/{org}/actions/runner-groups and
// /enterprises/{enterprise}/actions/runner-groups. Every group is visible
// to all repositories and organizations, so the visibility filters GitHub
// documents are accepted and change nothing.
func (s *Server) listRunnerGroups(c *call) {
	filter := "visible_to_repository"
	if c.scope.kind == enterpriseScope {
		filter = "visible_to_organization"
	}
	perPage, page, ok := pagination(c, filter)
	if !ok {
		return
	}
	groups := []map[string]any{}
	for _, g := range pageOf(s, c, c.scope.groups, perPage, page) {
		groups = append(groups, map[string]any{
			"id":                         g.id,
			"name":                       g.name,
			"visibility":                 "all",
			"default":                    g.isDefault,
			"runners_url":                fmt.Sprintf("%s/%s/actions/runner-groups/%d/runners", s.URL, c.scope.name, g.id),
			"allows_public_repositories": false,
			"restricted_to_workflows":    false,
		})
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"total_count": len(c.scope.groups), "runner_groups": groups})
}
