package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/retention"
)

// Defaults for the fields of Config left zero.
const (
	// DefaultSocket is where clients in a machine find the agent: its
	// socket's directory is bound there, read-only (the cache block's
	// machine_bind).
	DefaultSocket = "/run/rigplan-cache/socket"
	// DefaultHostSocket is where the agent listens on the host, in a
	// directory (0755) of its own, the one machines bind, inside
	// DefaultSocketGate, which only root may enter: host users cannot
	// even reach the socket. Inside machines its directory is where
	// DefaultSocket's is.
	DefaultHostSocket = DefaultSocketGate + "/machines/socket"
	// DefaultSocketGate is the root-only directory that holds the
	// default socket's directory on the host.
	DefaultSocketGate = "/run/rigplan-cache"
	// DefaultName names the agent instance (the cache resource).
	DefaultName = "cache"
	// DefaultStateRoot holds one state directory per agent instance, for
	// its staging mounts. It must not be the socket's directory: that one
	// is bind-mounted into machines, and a staging mount there would show
	// up inside every machine.
	DefaultStateRoot = "/run/rigplan/cache"

	DefaultSocketDirMode         fs.FileMode = 0o755
	DefaultReadTimeout                       = 10 * time.Second
	DefaultWriteTimeout                      = 10 * time.Second
	DefaultRequestTimeout                    = 2 * time.Minute
	DefaultFirstByteTimeout                  = 2 * time.Second
	DefaultMaxCreates                        = 4
	DefaultMaxConnections                    = 512
	DefaultMaxConnectionsPerPeer             = 8
	DefaultMaxInUsePerMachine                = 8
	DefaultMaxAnnotationBytes                = 2048
	DefaultMaxListingsPerMachine             = 2
	DefaultRetentionInterval                 = time.Minute
	DefaultSealWait                          = 30 * time.Second
)

// CommitPolicy says when a snapshot mounted in a machine becomes a cache
// that later jobs may copy.
type CommitPolicy string

const (
	// CommitOnExit seals every snapshot when its machine's leader exits,
	// as the original setup did.
	CommitOnExit CommitPolicy = "on-exit"
	// CommitOnSave keeps only what the job saved: a snapshot never saved is
	// deleted when its machine exits, so a failed job never poisons the
	// cache.
	CommitOnSave CommitPolicy = "on-save"
)

// Config is what an agent is told. The zero value of every field but
// Machines means its default.
type Config struct {
	// Name names the instance: its state directory and its logs.
	Name string
	// Socket is the unix socket's path on the host (DefaultHostSocket).
	Socket string
	// SocketDirMode is the mode the socket's directory is created with
	// when it is missing. The socket itself is 0666: machines' users
	// connect, and who they are is checked from the peer, not from file
	// permissions.
	SocketDirMode fs.FileMode
	// StateDir holds the host staging mounts (StateDir/staging/SNAPSHOT),
	// root-only. Default DefaultStateRoot/NAME. It must not be inside the
	// socket's directory.
	StateDir string
	// Machines maps each declared machine's name to the mount path
	// prefixes its jobs may ask for. Every other peer is refused.
	Machines map[string][]string
	// Commit is CommitOnExit (the default) or CommitOnSave.
	Commit CommitPolicy
	// Retention says which sealed snapshots to delete and when the store
	// is too full for new ones.
	Retention retention.Policy
	// RetentionInterval is how often retention runs on its own (it also
	// runs before a create when the store is over its high watermark).
	// Negative disables the periodic run.
	RetentionInterval time.Duration
	// Limits bound a request's size (protocol.DefaultLimits).
	Limits protocol.Limits
	// ReadTimeout bounds the time a client may take to send its request;
	// WriteTimeout the time the answer may take to go out.
	ReadTimeout, WriteTimeout time.Duration
	// FirstByteTimeout bounds the time from connecting to the request's
	// first byte: a client that means to ask has its request ready, and
	// an idle connection must not hold its peer's slot for a whole
	// ReadTimeout.
	FirstByteTimeout time.Duration
	// RequestTimeout bounds the work the agent does for one request.
	RequestTimeout time.Duration
	// MaxCreates bounds the snapshots being created (and saved) at once;
	// further requests wait for a slot within their RequestTimeout.
	MaxCreates int
	// MaxConnections bounds the connections open at once, over all
	// peers; one more is answered with an error at once. It guards the
	// agent's descriptors; MaxConnectionsPerPeer is what keeps peers from
	// starving each other.
	MaxConnections int
	// MaxConnectionsPerPeer bounds the connections one machine, or one
	// host user (root: the operator), has served at once; one more is
	// answered with an error at once, so that a machine holding idle
	// connections delays only itself.
	MaxConnectionsPerPeer int
	// MaxInUsePerMachine bounds the caches one machine has in use (or
	// being mounted) at once.
	MaxInUsePerMachine int
	// MaxAnnotationBytes bounds one snapshot's annotations: the bytes of
	// its terms, added up.
	MaxAnnotationBytes int
	// MaxListingsPerMachine bounds the ls and stats requests one machine
	// (or the host's operator) has served at once: the commands whose
	// cost grows with the store.
	MaxListingsPerMachine int
	// RunnersRoot is the root the runner policies are read under
	// (runnerconf.Dir, written by the runner resource); "" is "/".
	RunnersRoot string
	// SealWait bounds how long the agent waits, after a machine's leader
	// exited, for the machine's mounts of a snapshot to go away before it
	// seals it; if something still holds it then, the agent retries at
	// each retention run.
	SealWait time.Duration
}

// withDefaults returns c with every zero field set to its default, and
// checks it.
func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Socket == "" {
		c.Socket = DefaultHostSocket
	}
	if c.SocketDirMode == 0 {
		c.SocketDirMode = DefaultSocketDirMode
	}
	if c.StateDir == "" {
		c.StateDir = filepath.Join(DefaultStateRoot, c.Name)
	}
	if c.Commit == "" {
		c.Commit = CommitOnExit
	}
	if c.RetentionInterval == 0 {
		c.RetentionInterval = DefaultRetentionInterval
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.ReadTimeout, DefaultReadTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.RequestTimeout, DefaultRequestTimeout)
	def(&c.SealWait, DefaultSealWait)
	def(&c.FirstByteTimeout, DefaultFirstByteTimeout)
	for _, n := range []struct {
		v *int
		d int
	}{
		{&c.MaxCreates, DefaultMaxCreates}, {&c.MaxConnections, DefaultMaxConnections},
		{&c.MaxConnectionsPerPeer, DefaultMaxConnectionsPerPeer}, {&c.MaxInUsePerMachine, DefaultMaxInUsePerMachine},
		{&c.MaxAnnotationBytes, DefaultMaxAnnotationBytes}, {&c.MaxListingsPerMachine, DefaultMaxListingsPerMachine},
	} {
		if *n.v <= 0 {
			*n.v = n.d
		}
	}
	c.Limits = withLimitDefaults(c.Limits)
	return c, c.check()
}

func withLimitDefaults(l protocol.Limits) protocol.Limits {
	d := protocol.DefaultLimits()
	for _, f := range []struct {
		v *int
		d int
	}{
		{&l.MaxBytes, d.MaxBytes}, {&l.MaxTermBytes, d.MaxTermBytes}, {&l.MaxCriteria, d.MaxCriteria},
		{&l.MaxTermsPerCriterion, d.MaxTermsPerCriterion}, {&l.MaxAnnotations, d.MaxAnnotations},
	} {
		if *f.v <= 0 {
			*f.v = f.d
		}
	}
	return l
}

// check reports the first thing wrong with a configuration whose defaults
// are filled in.
func (c Config) check() error {
	var errs []error
	abs := func(what, p string) {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			errs = append(errs, fmt.Errorf("%s %q: want an absolute, clean path", what, p))
		}
	}
	abs("socket", c.Socket)
	abs("state directory", c.StateDir)
	sockDir := filepath.Dir(c.Socket)
	if c.StateDir == sockDir || strings.HasPrefix(c.StateDir, sockDir+"/") || strings.HasPrefix(sockDir, c.StateDir+"/") {
		errs = append(errs, fmt.Errorf("state directory %s and the socket's directory %s overlap: the socket's directory is bind-mounted into machines, so staging mounts must live elsewhere; use for example %s", c.StateDir, sockDir, filepath.Join(DefaultStateRoot, c.Name)))
	}
	if c.Commit != CommitOnExit && c.Commit != CommitOnSave {
		errs = append(errs, fmt.Errorf("commit policy %q: want %q or %q", c.Commit, CommitOnExit, CommitOnSave))
	}
	if len(c.Machines) == 0 {
		errs = append(errs, errors.New("no machines are declared: every request would be refused; declare the machines that may use the cache and the paths they may mount"))
	}
	for _, name := range slices.Sorted(maps.Keys(c.Machines)) {
		prefixes := c.Machines[name]
		if name == "" {
			errs = append(errs, errors.New("a declared machine has an empty name"))
		}
		if len(prefixes) == 0 {
			errs = append(errs, fmt.Errorf("machine %q has no allowed mount prefixes: it could mount nowhere; give at least one, such as /home/runner/cache", name))
		}
		for _, p := range prefixes {
			if !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/" {
				errs = append(errs, fmt.Errorf("machine %q: allowed prefix %q: want an absolute, clean path other than /", name, p))
			}
		}
	}
	if err := c.Retention.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("retention: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cache agent configuration: %w", err)
	}
	return nil
}
