package ghapi

import (
	"fmt"
	"strings"
)

// Scope is where runners are registered.
type Scope struct {
	// Kind is "repository", "organization" or "enterprise".
	Kind string `json:"kind"`
	// Name is OWNER/REPO, the organization's login, or the enterprise's
	// slug.
	Name string `json:"name"`
}

// Scope kinds.
const (
	Repository   = "repository"
	Organization = "organization"
	Enterprise   = "enterprise"
)

func (s Scope) String() string { return s.Kind + " " + s.Name }

// ownerRepo splits a repository scope's name.
func (s Scope) ownerRepo() (string, string, error) {
	owner, repo, ok := strings.Cut(s.Name, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return "", "", fmt.Errorf("repository %q: want OWNER/REPO", s.Name)
	}
	return owner, repo, nil
}

// permission is what a GitHub App needs for runners in the scope, as
// GitHub names it in X-Accepted-GitHub-Permissions and the App settings.
func (s Scope) permission() string {
	switch s.Kind {
	case Repository:
		return "administration"
	case Organization:
		return "organization_self_hosted_runners"
	}
	return "" // enterprise runners cannot be managed by an App
}
