package ghapi

import (
	"crypto/sha256"
	"encoding/json"
	"os"
	"sync"
	"time"
)

// Clients keeps one client per API URL and credentials, so that a GitHub
// App's installation token is fetched once and reused until it is about
// to expire, however many calls (refresh, plan, apply; one boot after
// another in the agent) use it.
type Clients struct {
	// New makes a client; nil is the real one on go-github.
	New func(Options) (API, error)

	mu      sync.Mutex
	clients map[[sha256.Size]byte]API
}

// Get returns the client for o's URL and credentials, made on first use
// and again when a credentials file changed (a rotated token or key is
// picked up without restarting the agent).
func (c *Clients) Get(o Options) (API, error) {
	var changed []time.Time
	for _, f := range []string{o.Auth.TokenFile, o.Auth.PrivateKeyFile} {
		if fi, err := os.Stat(f); err == nil {
			changed = append(changed, fi.ModTime())
		}
	}
	b, _ := json.Marshal(struct {
		URL     string
		Auth    Auth
		Changed []time.Time
	}{o.URL, o.Auth, changed})
	key := sha256.Sum256(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[key]; ok {
		return cl, nil
	}
	mk := c.New
	if mk == nil {
		mk = func(o Options) (API, error) { return New(o) }
	}
	cl, err := mk(o)
	if err != nil {
		return nil, err
	}
	if c.clients == nil {
		c.clients = map[[sha256.Size]byte]API{}
	}
	c.clients[key] = cl
	return cl, nil
}
