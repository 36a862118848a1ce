// Package ghapi is the narrow slice of GitHub's REST API that rigplan
// uses for self-hosted runners: list (all pages), delete, runner groups,
// just-in-time configs and registration tokens, for a repository, an
// organization or an enterprise. It is built on go-github, with two
// things go-github leaves to its callers:
//
//   - authentication from files on the host: a token file, or a GitHub
//     App's private key whose installation tokens are cached until shortly
//     before they expire (ghinstallation);
//   - resilience: requests are retried with backoff on 5xx answers and on
//     rate limits, honouring Retry-After and X-RateLimit-Reset, up to a
//     bound; and every failure becomes an error that says what to fix
//     (Error), naming the permission GitHub asked for on a 403.
//
// The API interface is what the runner provider and the agent call, so
// that their tests can use a strict local server (providers/github/githubtest)
// through the real client, and pure-logic tests a fake.
package ghapi
