package ghapi

import (
	"fmt"
	"net/http"
)

// Error is a failed call, explained: what rigplan was doing, what GitHub
// answered, and what to fix.
type Error struct {
	// Doing is what was asked, e.g. "list the runners of repository a/b".
	Doing string
	// Auth names the credentials used (a file, an App), never a secret.
	Auth string
	// Status and Message are GitHub's answer; 0 when there was none.
	Status  int
	Message string
	// Accepted is GitHub's X-Accepted-GitHub-Permissions on a 403: the
	// permission that would have worked, e.g. "administration=write".
	Accepted string
	// Permission is what an App needs for the scope's runners.
	Permission string
	Err        error
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	answer := fmt.Sprintf("%d %s", e.Status, e.Message)
	switch {
	case e.Status == 0:
		return fmt.Sprintf("cannot %s: %v", e.Doing, e.Err)
	case e.Status == http.StatusUnauthorized:
		return fmt.Sprintf("cannot %s: GitHub rejected the credentials (%s) from %s: they are wrong, expired or revoked. Put valid ones in place; nothing was changed.", e.Doing, answer, e.Auth)
	case e.Status == http.StatusForbidden && e.Accepted != "":
		return fmt.Sprintf("cannot %s: the credentials (%s) lack a permission (%s): grant %s (for a GitHub App: in its settings under Permissions, then accept the change in the installation).", e.Doing, e.Auth, answer, e.Accepted)
	case e.Status == http.StatusForbidden || e.Status == http.StatusTooManyRequests:
		hint := "a token needs admin rights on the repository (classic: the repo scope), admin:org for an organization, manage_runners:enterprise for an enterprise"
		if e.Permission != "" {
			hint += fmt.Sprintf("; a GitHub App or fine-grained token needs %s: write", e.Permission)
		}
		return fmt.Sprintf("cannot %s: GitHub refused it (%s) for %s: %s.", e.Doing, answer, e.Auth, hint)
	case e.Status == http.StatusNotFound:
		return fmt.Sprintf("cannot %s: GitHub answered %s: it does not exist, or %s cannot see it (is the App installed there? does the token have access?).", e.Doing, answer, e.Auth)
	case e.Status == http.StatusUnprocessableEntity || e.Status == http.StatusConflict:
		return fmt.Sprintf("cannot %s: GitHub refused the request (%s).", e.Doing, answer)
	case e.Status >= 500:
		return fmt.Sprintf("cannot %s: GitHub failed (%s), also on the retries; try again later (https://www.githubstatus.com).", e.Doing, answer)
	}
	return fmt.Sprintf("cannot %s: GitHub answered %s.", e.Doing, answer)
}
