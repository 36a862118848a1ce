package ghapi

import (
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-github/v89/github"
)

// Auth says how to authenticate: a token file, or a GitHub App. The
// secrets stay in files on the host; the HCL names only the paths.
type Auth struct {
	// TokenFile holds a personal access token (or any bearer token).
	TokenFile string `json:"token_file,omitempty"`
	// AppID, InstallationID and PrivateKeyFile are a GitHub App's: its ID,
	// its installation on the organization or repository owner, and the
	// private key (.pem) downloaded from its settings.
	AppID          int64  `json:"app_id,omitempty"`
	InstallationID int64  `json:"installation_id,omitempty"`
	PrivateKeyFile string `json:"private_key_file,omitempty"`
}

// String names the credentials for messages, without any secret.
func (a Auth) String() string {
	if a.PrivateKeyFile != "" {
		return fmt.Sprintf("GitHub App %d (installation %d, key %s)", a.AppID, a.InstallationID, a.PrivateKeyFile)
	}
	return "the token in " + a.TokenFile
}

// tokenRefresh is how long before it expires an installation token is
// replaced (they last an hour).
const tokenRefresh = 5 * time.Minute

// transport adds the Authorization header to requests sent through next.
func (a Auth) transport(next http.RoundTripper, base string, now func() time.Time) (http.RoundTripper, error) {
	switch {
	case a.PrivateKeyFile != "" && a.TokenFile != "":
		return nil, fmt.Errorf("both a token file (%s) and a GitHub App key (%s): use one", a.TokenFile, a.PrivateKeyFile)
	case a.PrivateKeyFile != "":
		key, err := readKey(a.PrivateKeyFile)
		if err != nil {
			return nil, err
		}
		if a.AppID <= 0 || a.InstallationID <= 0 {
			return nil, fmt.Errorf("GitHub App key %s: the App ID and installation ID must be set (found in the App's settings and the installation's URL)", a.PrivateKeyFile)
		}
		return &appTransport{auth: a, key: key, base: base, next: next, now: now}, nil
	case a.TokenFile != "":
		token, err := readToken(a.TokenFile)
		if err != nil {
			return nil, err
		}
		return bearer{token: token, next: next}, nil
	}
	return nil, fmt.Errorf("no GitHub credentials: set a token file or a GitHub App")
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the GitHub token: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" || strings.ContainsAny(token, " \t\r\n") {
		return "", fmt.Errorf("%s does not hold one GitHub token (one line, no spaces)", path)
	}
	return token, nil
}

func readKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the GitHub App's private key: %w", err)
	}
	if blk, _ := pem.Decode(b); blk == nil {
		return nil, fmt.Errorf("%s is not a PEM file: download the App's private key (a .pem file) from its settings, under Private keys", path)
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s holds no RSA private key (%v): download the App's private key (a .pem file) from its settings, under Private keys", path, err)
	}
	return key, nil
}

// bearer sends a fixed token.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// appTransport authenticates as a GitHub App's installation, with an
// installation token obtained with a JWT signed by the App's key, and
// kept until shortly before it expires.
type appTransport struct {
	auth Auth
	key  *rsa.PrivateKey
	base string
	next http.RoundTripper
	now  func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
}

func (t *appTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	token, err := t.installationToken(req)
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	return t.next.RoundTrip(r)
}

func (t *appTransport) installationToken(req *http.Request) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.expires.Sub(t.now()) > tokenRefresh {
		return t.token, nil
	}
	now := t.now()
	claims := jwt.RegisteredClaims{
		Issuer:    strconv.FormatInt(t.auth.AppID, 10),
		IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)), // clock skew
		ExpiresAt: jwt.NewNumericDate(now.Add(9 * time.Minute)),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(t.key)
	if err != nil {
		return "", fmt.Errorf("signing the GitHub App's JWT: %w", err)
	}
	// The exchange is go-github's too, with the JWT as the bearer.
	jc, err := github.NewClient(github.WithTransport(bearer{token: signed, next: t.next}),
		github.WithURLs(&t.base, &t.base), github.WithDisableRateLimitCheck(), github.WithUserAgent("rigplan"))
	if err != nil {
		return "", err
	}
	tok, _, err := jc.Apps.CreateInstallationToken(req.Context(), t.auth.InstallationID, &github.InstallationTokenOptions{})
	if err == nil && tok.GetToken() == "" {
		err = fmt.Errorf("GitHub answered without a token")
	}
	if err != nil {
		return "", explain(fmt.Sprintf("get an installation token for GitHub App %d, installation %d", t.auth.AppID, t.auth.InstallationID), t.auth.String(), "", err)
	}
	t.token, t.expires = tok.GetToken(), tok.GetExpiresAt().Time
	return t.token, nil
}
