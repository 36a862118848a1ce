package githubtest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JWT and token lifetimes, as GitHub documents them.
const (
	jwtMaxLifetime   = 10 * time.Minute // exp at most this after iat, and after now
	jwtClockSkew     = 60 * time.Second // iat may be this far in the future
	installationLife = time.Hour
)

// Messages GitHub answers with.
const (
	msgRequiresAuth   = "Requires authentication"
	msgBadCredentials = "Bad credentials"
	msgNotAccessible  = "Resource not accessible by integration"
	msgJWTUndecodable = "A JSON web token could not be decoded"
	msgIatInvalid     = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	msgExpInvalid     = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	msgExpTooFar      = "'Expiration time' claim ('exp') is too far in the future"
)

// app is a GitHub App: its public key checks its JWTs.
type app struct {
	id  int64
	key *rsa.PublicKey
}

// installation is an App installed on an account, covering that
// account's repositories and, for an organization, the organization.
type installation struct {
	id          int64
	appID       int64
	account     string
	permissions map[string]string // e.g. "administration": "write"
}

// installationToken is an installation access token.
type installationToken struct {
	installation *installation
	permissions  map[string]string // those of the installation, or fewer
	repositories []string          // nil: all the account's repositories
	expires      time.Time
}

// AddToken adds a personal access token, allowed on every scope.
func (s *Server) AddToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pats[token] = true
}

// AddApp adds a GitHub App whose JWTs, signed by the private key of key
// with RS256, the server accepts.
func (s *Server) AddApp(appID int64, key *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Helper()
	if key == nil || appID <= 0 {
		s.fatalf("AddApp(%d): want a positive App ID and a key", appID)
	}
	s.apps[appID] = &app{id: appID, key: key}
}

// AddInstallation installs an App on an account: an organization or a
// repository owner, whose repositories (and organization) it covers with
// the given permissions, e.g. {"administration": "write"}.
func (s *Server) AddInstallation(appID, installationID int64, account string, permissions map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Helper()
	switch {
	case s.apps[appID] == nil:
		s.fatalf("AddInstallation(%d, %d): App %d was not added (AddApp)", appID, installationID, appID)
	case s.installations[installationID] != nil:
		s.fatalf("AddInstallation(%d, %d): installation %d exists", appID, installationID, installationID)
	case account == "" || strings.Contains(account, "/"):
		s.fatalf("AddInstallation(%d, %d): account %q is not an organization or user", appID, installationID, account)
	}
	for name, level := range permissions {
		if permissionLevel(level) == 0 {
			s.fatalf("AddInstallation: permission %s=%q: want read, write or admin", name, level)
		}
	}
	s.installations[installationID] = &installation{
		id: installationID, appID: appID, account: account, permissions: maps.Clone(permissions),
	}
}

// IssuedTokens returns how many installation tokens were issued.
func (s *Server) IssuedTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// credential is who a request authenticated as.
type credential struct {
	kind  credKind
	token string             // credPAT
	inst  *installationToken // credInstallation
	appID int64              // credApp
}

type credKind int

const (
	credNone credKind = iota
	credPAT
	credInstallation
	credApp
)

// authenticate reads the Authorization header: "Bearer X" or "token X",
// X a known token or (with Bearer only, as GitHub requires) an App JWT.
// No header is credNone; anything not recognised is an error.
func (s *Server) authenticate(r *http.Request) (credential, *apiError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return credential{}, nil
	}
	scheme, tok, _ := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	bearer := strings.EqualFold(scheme, "Bearer")
	if !bearer && !strings.EqualFold(scheme, "token") || tok == "" {
		return credential{}, &apiError{http.StatusUnauthorized, msgBadCredentials}
	}
	if bearer && strings.Count(tok, ".") == 2 {
		id, err := s.verifyJWT(tok)
		if err != nil {
			return credential{}, err
		}
		return credential{kind: credApp, appID: id}, nil
	}
	if s.pats[tok] {
		return credential{kind: credPAT, token: tok}, nil
	}
	if it := s.instTokens[tok]; it != nil {
		if !s.now().Before(it.expires) {
			return credential{}, &apiError{http.StatusUnauthorized, msgBadCredentials}
		}
		return credential{kind: credInstallation, token: tok, inst: it}, nil
	}
	return credential{}, &apiError{http.StatusUnauthorized, msgBadCredentials}
}

// verifyJWT checks an App JWT as GitHub does and returns its App's ID.
// The issuer must be the numeric App ID, as a JSON number or string
// (GitHub also takes the App's client ID, which is not modelled).
func (s *Server) verifyJWT(tok string) (int64, *apiError) {
	undecodable := &apiError{http.StatusUnauthorized, msgJWTUndecodable}
	parts := strings.Split(tok, ".")
	var header struct {
		Alg string `json:"alg"`
	}
	if !decodeSegment(parts[0], &header) || header.Alg != "RS256" {
		return 0, undecodable
	}
	var claims map[string]json.RawMessage
	if !decodeSegment(parts[1], &claims) || claims == nil {
		return 0, undecodable
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return 0, undecodable
	}

	var appID int64
	iss := bytes.Trim(claims["iss"], `"`) // a number, or a string of one
	if appID, err = strconv.ParseInt(string(iss), 10, 64); err != nil {
		return 0, &apiError{http.StatusUnauthorized, "'Issuer' claim ('iss') must be the GitHub App's ID"}
	}
	a := s.apps[appID]
	if a == nil {
		return 0, &apiError{http.StatusNotFound, "Integration not found"}
	}
	// A key that is not the App's: GitHub says the token cannot be decoded.
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(a.key, crypto.SHA256, digest[:], sig) != nil {
		return 0, undecodable
	}

	now := s.now()
	iat, ok := unixClaim(claims["iat"])
	if !ok || iat.After(now.Add(jwtClockSkew)) {
		return 0, &apiError{http.StatusUnauthorized, msgIatInvalid}
	}
	exp, ok := unixClaim(claims["exp"])
	if !ok || !exp.After(now) {
		return 0, &apiError{http.StatusUnauthorized, msgExpInvalid}
	}
	if exp.Sub(iat) > jwtMaxLifetime || exp.Sub(now) > jwtMaxLifetime {
		return 0, &apiError{http.StatusUnauthorized, msgExpTooFar}
	}
	return appID, nil
}

// decodeSegment decodes a JWT segment's base64url JSON into v.
func decodeSegment(seg string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	return err == nil && json.Unmarshal(b, v) == nil
}

// unixClaim reads a claim that must be an integer of Unix seconds.
func unixClaim(raw json.RawMessage) (time.Time, bool) {
	if jsonType(raw) != "number" || !isInteger(raw) {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return time.Unix(n, 0), err == nil
}

// SignJWT returns a GitHub App JWT signed with RS256: the claims iss (the
// App ID, as a number), iat and exp.
func SignJWT(key *rsa.PrivateKey, appID int64, iat, exp time.Time) string {
	return signJWT(key, map[string]any{"alg": "RS256", "typ": "JWT"},
		map[string]any{"iss": appID, "iat": iat.Unix(), "exp": exp.Unix()})
}

// signJWT signs any header and claims with RS256.
func signJWT(key *rsa.PrivateKey, header, claims map[string]any) string {
	seg := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := seg(header) + "." + seg(claims)
	digest := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		panic(fmt.Sprintf("githubtest: signing a JWT: %v", err))
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// authorize checks that the request's credentials may use the endpoint,
// and answers if not:
//
//   - the App endpoints take only a JWT; anything else "could not be
//     decoded" as one (401), as GitHub answers;
//   - the other endpoints take tokens; a JWT there is 403 "Resource not
//     accessible by integration";
//   - an installation token needs its installation's account: another
//     owner's repository is 404 (GitHub does not reveal private
//     repositories), another organization and any enterprise 403;
//   - and the permission: administration for a repository's runners,
//     organization_self_hosted_runners for an organization's runners and
//     runner groups, read for GET and write otherwise; a missing one is 403
//     with X-Accepted-GitHub-Permissions naming what would have worked.
func (s *Server) authorize(w http.ResponseWriter, cred credential, rt *route) bool {
	switch {
	case cred.kind == credNone:
		writeError(w, http.StatusUnauthorized, msgRequiresAuth)
		return false
	case rt.jwt && cred.kind != credApp:
		writeError(w, http.StatusUnauthorized, msgJWTUndecodable)
		return false
	case rt.jwt || cred.kind == credPAT:
		return true
	case cred.kind == credApp:
		writeError(w, http.StatusForbidden, msgNotAccessible)
		return false
	}

	tok, sc := cred.inst, rt.scope
	var permission string
	switch sc.kind {
	case repoScope:
		if !strings.EqualFold(sc.owner, tok.installation.account) ||
			tok.repositories != nil && !slices.ContainsFunc(tok.repositories, func(r string) bool { return strings.EqualFold(r, sc.repo) }) {
			writeError(w, http.StatusNotFound, "Not Found")
			return false
		}
		permission = "administration"
	case orgScope:
		if !strings.EqualFold(sc.owner, tok.installation.account) {
			writeError(w, http.StatusForbidden, msgNotAccessible)
			return false
		}
		permission = "organization_self_hosted_runners"
	default: // enterprises' runners cannot be managed with installation tokens
		writeError(w, http.StatusForbidden, msgNotAccessible)
		return false
	}
	need := "read"
	if rt.write {
		need = "write"
	}
	if permissionLevel(tok.permissions[permission]) < permissionLevel(need) {
		w.Header().Set("X-Accepted-GitHub-Permissions", permission+"="+need)
		writeError(w, http.StatusForbidden, msgNotAccessible)
		return false
	}
	return true
}

// permissionLevel orders permission levels; 0 is none (or not a level).
func permissionLevel(level string) int {
	return slices.Index([]string{"read", "write", "admin"}, level) + 1
}

// installationJSON is an installation as GitHub returns it.
func installationJSON(in *installation) map[string]any {
	return map[string]any{
		"id":                   in.id,
		"app_id":               in.appID,
		"account":              map[string]any{"login": in.account},
		"permissions":          in.permissions,
		"repository_selection": "all",
	}
}

// getInstallation: GET /repos/{owner}/{repo}/installation and
// /orgs/{org}/installation, the calling App's installation on the owner.
func (s *Server) getInstallation(c *call) {
	for _, in := range s.installations {
		if in.appID == c.cred.appID && strings.EqualFold(in.account, c.scope.owner) {
			writeJSON(c.w, http.StatusOK, installationJSON(in))
			return
		}
	}
	writeError(c.w, http.StatusNotFound, "Not Found")
}

// createInstallationToken: POST /app/installations/{installation_id}/access_tokens.
// The optional body can narrow the token to some repositories (by name)
// and permissions, as GitHub allows; repository_ids is not modelled.
func (s *Server) createInstallationToken(c *call, id string) {
	const doc = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"
	n, err := strconv.ParseInt(id, 10, 64)
	in := s.installations[n]
	if err != nil || in == nil || in.appID != c.cred.appID {
		writeErrorDoc(c.w, http.StatusNotFound, "Not Found", doc)
		return
	}
	o := parseObject(c.body, "repositories", "repository_ids", "permissions")
	repos, hasRepos := o.stringList("repositories", false, 1, 500)
	perms, hasPerms := o.stringMap("permissions", false)
	if _, ok := o.members["repository_ids"]; ok {
		o.addf("repository_ids is not modelled by githubtest: name the repositories instead.")
	}
	if !o.ok() {
		o.fail(c.w, doc)
		return
	}
	tok := &installationToken{installation: in, permissions: in.permissions, expires: s.now().Add(installationLife)}
	if hasPerms {
		for name, level := range perms {
			if permissionLevel(level) == 0 || permissionLevel(level) > permissionLevel(in.permissions[name]) {
				writeErrorDoc(c.w, http.StatusUnprocessableEntity, "The permissions requested are not granted to this installation.", doc)
				return
			}
		}
		tok.permissions = perms
	}
	selection := "all"
	if hasRepos {
		for _, r := range repos {
			if s.scopes[key(repoScope+"/"+in.account+"/"+r)] == nil {
				writeErrorDoc(c.w, http.StatusUnprocessableEntity,
					"There is at least one repository that does not exist or is not accessible to the parent installation.", doc)
				return
			}
		}
		tok.repositories, selection = repos, "selected"
	}
	token := newToken("ghs_")
	s.instTokens[token] = tok
	s.issued++
	writeJSON(c.w, http.StatusCreated, map[string]any{
		"token":                token,
		"expires_at":           rfc3339(tok.expires),
		"permissions":          tok.permissions,
		"repository_selection": selection,
	})
}
