package githubtest

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Runner is a self-hosted runner registered in a scope.
type Runner struct {
	ID        int64
	Name      string
	OS        string // e.g. "linux"
	Status    string // "online" or "offline"
	Busy      bool   // running a job
	Ephemeral bool
	Labels    []string
	GroupID   int64 // the runner group; 0 in AddRunner means 1, Default
	// Version is the runner application's, reported once it has
	// connected; "" (left out of the JSON) before.
	Version string
}

// Scope kinds, the first segment of a scope's name.
const (
	repoScope       = "repos"
	orgScope        = "orgs"
	enterpriseScope = "enterprises"
)

// defaultGroupID is the Default runner group's, in every scope.
const defaultGroupID = 1

// scope is a repository, organization or enterprise with its runners.
type scope struct {
	name    string // as given to AddScope, e.g. "repos/acme/widgets"
	kind    string // repoScope, orgScope or enterpriseScope
	owner   string // the repository's owner, the organization or the enterprise
	repo    string // the repository, for repoScope
	runners map[int64]*Runner
	groups  []runnerGroup // orgs and enterprises; Default first
}

type runnerGroup struct {
	id        int64
	name      string
	isDefault bool
}

// key is the lookup key of a scope name: GitHub's owner, repository and
// organization names are not case sensitive.
func key(name string) string { return strings.ToLower(name) }

// isID says whether a path segment is a decimal ID.
func isID(seg string) bool {
	_, err := strconv.ParseInt(seg, 10, 64)
	return err == nil
}

// parseScope splits a scope name, or returns false.
func parseScope(name string) (scope, bool) {
	segs := strings.Split(name, "/")
	if slices.Contains(segs, "") {
		return scope{}, false
	}
	switch {
	case len(segs) == 3 && segs[0] == repoScope:
		return scope{name: name, kind: repoScope, owner: segs[1], repo: segs[2]}, true
	case len(segs) == 2 && (segs[0] == orgScope || segs[0] == enterpriseScope):
		return scope{name: name, kind: segs[0], owner: segs[1]}, true
	}
	return scope{}, false
}

// AddScope adds a repository ("repos/OWNER/REPO"), organization
// ("orgs/ORG") or enterprise ("enterprises/SLUG"). Organizations and
// enterprises get the runner group "Default" (ID 1); a repository's
// runners are always in group 1.
func (s *Server) AddScope(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Helper()
	sc, ok := parseScope(name)
	if !ok {
		s.fatalf("AddScope(%q): want repos/OWNER/REPO, orgs/ORG or enterprises/SLUG", name)
	}
	if s.scopes[key(name)] != nil {
		s.fatalf("AddScope(%q): already added", name)
	}
	sc.runners = map[int64]*Runner{}
	if sc.kind != repoScope {
		sc.groups = []runnerGroup{{id: defaultGroupID, name: "Default", isDefault: true}}
	}
	s.scopes[key(name)] = &sc
}

// scopeOf returns an added scope, or fails the test.
func (s *Server) scopeOf(fn, name string) *scope {
	s.t.Helper()
	sc := s.scopes[key(name)]
	if sc == nil {
		s.fatalf("%s: scope %q was not added (AddScope)", fn, name)
	}
	return sc
}

// AddRunnerGroup adds a runner group to an organization or enterprise and
// returns its ID; IDs are unique across the server, from 2.
func (s *Server) AddRunnerGroup(scopeName, name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Helper()
	sc := s.scopeOf("AddRunnerGroup", scopeName)
	if sc.kind == repoScope {
		s.fatalf("AddRunnerGroup(%q, %q): repositories have no runner groups", scopeName, name)
	}
	for _, g := range sc.groups {
		if strings.EqualFold(g.name, name) {
			s.fatalf("AddRunnerGroup(%q, %q): the group exists (ID %d)", scopeName, name, g.id)
		}
	}
	id := s.nextGroupID
	s.nextGroupID++
	sc.groups = append(sc.groups, runnerGroup{id: id, name: name})
	return id
}

// hasGroup says whether a runner group ID can be used in the scope.
func (sc *scope) hasGroup(id int64) bool {
	if sc.kind == repoScope {
		return id == defaultGroupID
	}
	return slices.ContainsFunc(sc.groups, func(g runnerGroup) bool { return g.id == id })
}

// AddRunner registers a runner in a scope and returns the ID it was
// given (r.ID is ignored). An empty Status is "offline".
func (s *Server) AddRunner(scopeName string, r Runner) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Helper()
	sc := s.scopeOf("AddRunner", scopeName)
	if r.GroupID == 0 {
		r.GroupID = defaultGroupID
	}
	if !sc.hasGroup(r.GroupID) {
		s.fatalf("AddRunner(%q, %q): no runner group %d in the scope", scopeName, r.Name, r.GroupID)
	}
	if sc.runnerNamed(r.Name) != nil {
		s.fatalf("AddRunner(%q, %q): a runner has that name", scopeName, r.Name)
	}
	if r.Status == "" {
		r.Status = "offline"
	}
	return s.register(sc, r)
}

// register stores a copy of r with a new ID and returns the ID.
func (s *Server) register(sc *scope, r Runner) int64 {
	r.ID = s.nextRunnerID
	s.nextRunnerID++
	r.Labels = slices.Clone(r.Labels)
	sc.runners[r.ID] = &r
	return r.ID
}

// runnerNamed finds a runner by name. GitHub's runner names are unique
// in a scope regardless of case.
func (sc *scope) runnerNamed(name string) *Runner {
	for _, r := range sc.runners {
		if strings.EqualFold(r.Name, name) {
			return r
		}
	}
	return nil
}

// sorted returns the scope's runners by ID.
func (sc *scope) sorted() []*Runner {
	out := make([]*Runner, 0, len(sc.runners))
	for _, r := range sc.runners {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *Runner) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Runners returns a copy of a scope's runners, by ID.
func (s *Server) Runners(scopeName string) []Runner {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Helper()
	var out []Runner
	for _, r := range s.scopeOf("Runners", scopeName).sorted() {
		c := *r
		c.Labels = slices.Clone(r.Labels)
		out = append(out, c)
	}
	return out
}

// SetRunner changes a runner's status (e.g. "online", "offline") and
// whether it is running a job.
func (s *Server) SetRunner(scopeName string, id int64, status string, busy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Helper()
	r := s.scopeOf("SetRunner", scopeName).runners[id]
	if r == nil {
		s.fatalf("SetRunner(%q, %d): no such runner", scopeName, id)
	}
	r.Status, r.Busy = status, busy
}

// readOnlyLabels are the labels a runner gets by itself (self-hosted, its
// OS and architecture); GitHub lists them with type "read-only", the
// others with type "custom".
var readOnlyLabels = []string{"self-hosted", "linux", "windows", "macos", "x64", "x86", "arm", "arm64"}

// jitDefaultLabels are the read-only labels of a runner registered with
// generate-jitconfig, before it has connected.
var jitDefaultLabels = []string{"self-hosted", "Linux", "X64"}

// runnerJSON is a runner as GitHub returns it.
type runnerJSON struct {
	ID            int64       `json:"id"`
	Name          string      `json:"name"`
	OS            string      `json:"os"`
	Status        string      `json:"status"`
	Busy          bool        `json:"busy"`
	Ephemeral     bool        `json:"ephemeral"`
	RunnerGroupID int64       `json:"runner_group_id"`
	Labels        []labelJSON `json:"labels"`
	Version       string      `json:"version,omitempty"`
}

type labelJSON struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"` // "read-only" or "custom"
}

// runnerJSON renders a runner. Label IDs are stable per (case-folded)
// name across the server.
func (s *Server) runnerJSON(r *Runner) runnerJSON {
	out := runnerJSON{ID: r.ID, Name: r.Name, OS: r.OS, Status: r.Status, Busy: r.Busy,
		Ephemeral: r.Ephemeral, RunnerGroupID: r.GroupID, Labels: []labelJSON{}, Version: r.Version}
	for _, l := range r.Labels {
		k := strings.ToLower(l)
		id, ok := s.labelIDs[k]
		if !ok {
			id = int64(len(s.labelIDs) + 1)
			s.labelIDs[k] = id
		}
		typ := "custom"
		if slices.Contains(readOnlyLabels, k) {
			typ = "read-only"
		}
		out.Labels = append(out.Labels, labelJSON{ID: id, Name: l, Type: typ})
	}
	return out
}
