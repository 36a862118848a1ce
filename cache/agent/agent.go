package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/store"
	"github.com/rigplan/rigplan/internal/ghapi"
)

// Deps are what the agent works with, apart from its configuration.
type Deps struct {
	// Store keeps the snapshots; it is the agent's database.
	Store store.Store
	// Log receives structured logs; nil discards them.
	Log *slog.Logger
	// Notify sends a state line to the service manager; nil means
	// sd_notify (a no-op outside a systemd service).
	Notify func(state string) error
	// Now is the clock, for snapshot times and retention ages; nil means
	// time.Now.
	Now func() time.Time
	// Pause is a test-only hook: called at each named step of a request
	// (see testhook.go); nil means the hook named by PauseEnv, if any.
	Pause func(step string)
}

// Agent is the cache agent. Create it with New, then call Serve.
type Agent struct {
	cfg      Config
	store    store.Store
	log      *slog.Logger
	notify   func(string) error
	now      func() time.Time
	pause    func(string)
	id       *inject.Identifier
	staging  string // StateDir/staging
	creates  chan struct{}
	started  time.Time
	requests atomic.Uint64 // request ids
	open     atomic.Int64  // connections being served

	// runners are the GitHub clients of the runner policies.
	runners ghapi.Clients

	// quiet keeps refusals of peers the agent does not serve from
	// flooding the log.
	quiet logLimiter

	// gcMu keeps retention runs apart.
	gcMu sync.Mutex

	mu    sync.Mutex
	snaps map[string]*entry
	// touched, while reconcile reads the store, collects the names whose
	// entries the view added or removed meanwhile (see reconcile); nil
	// otherwise.
	touched  map[string]bool
	machines map[machineKey]*machine
	def      string // the default volume's name
	stats    counters
	// peers counts what each peer (a machine's name, or a host user)
	// has under way, for the per-peer limits.
	peers map[string]*load
	// machineCreates holds one slot per machine for making snapshots,
	// so that one machine's mounts and saves queue behind each other,
	// not before every other machine's.
	machineCreates map[string]chan struct{}

	// bg tracks the goroutines Serve starts (connections, machine
	// watches, retention); ctx is Serve's, cancelled when it returns.
	bg  sync.WaitGroup
	ctx context.Context
}

// New returns an agent for cfg. It checks the configuration and creates
// nothing on the host yet: Serve does.
func New(cfg Config, deps Deps) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.Store == nil {
		return nil, errors.New("cache agent: no store")
	}
	a := &Agent{
		cfg:            cfg,
		store:          deps.Store,
		log:            deps.Log,
		notify:         deps.Notify,
		now:            deps.Now,
		pause:          deps.Pause,
		id:             &inject.Identifier{Machines: cfg.Machines},
		staging:        filepath.Join(cfg.StateDir, "staging"),
		creates:        make(chan struct{}, cfg.MaxCreates),
		snaps:          map[string]*entry{},
		machines:       map[machineKey]*machine{},
		peers:          map[string]*load{},
		quiet:          logLimiter{interval: 10 * time.Second},
		machineCreates: map[string]chan struct{}{},
	}
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a.log = a.log.With("agent", cfg.Name)
	if a.notify == nil {
		a.notify = func(state string) error { _, err := daemon.SdNotify(false, state); return err }
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.pause == nil {
		a.pause = pauseFromEnv(a.log)
	}
	return a, nil
}

// Serve recovers the store's state left by an earlier run (see doc.go),
// tells the service manager it is ready, and serves ln until ctx is done.
// Then it stops accepting, lets the requests under way finish, and
// returns nil: in-use snapshots stay in use, to be picked up by the next
// start. ln must be a unix listener; Serve closes it. An Agent serves
// once.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	defer ln.Close()
	uln, ok := ln.(*net.UnixListener)
	if !ok {
		return fmt.Errorf("cache agent: listener on %s is not a unix socket", ln.Addr())
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.ctx = ctx
	a.started = a.now()
	if err := a.rebuild(ctx); err != nil {
		return err
	}
	a.sendNotify("READY=1\nSTATUS=" + a.status())
	a.log.Info("serving", "socket", ln.Addr().String(), "commit", string(a.cfg.Commit), "machines", len(a.cfg.Machines))
	if open, dir := OpenToHostUsers(ln.Addr().String()); open {
		a.log.Warn("every host user can reach the socket: the agent refuses them, but each costs it a connection; make the directory above the socket's root-only (chmod 0700 "+dir+"), as the default socket "+DefaultHostSocket+" is", "socket", ln.Addr().String())
	}

	if a.cfg.RetentionInterval > 0 {
		a.bg.Add(1)
		go a.periodic(ctx)
	}
	// Closing the listener is what ends Accept when ctx is done.
	stop := context.AfterFunc(ctx, func() { uln.Close() })
	defer stop()
	err := a.accept(ctx, uln)
	cancel()
	a.sendNotify("STOPPING=1")
	a.bg.Wait()
	a.closeWatches()
	return err
}

// accept hands each connection to its own goroutine. It never waits for
// a slot: a peer that holds connections must not keep the others in the
// socket's backlog. Past MaxConnections open at once, a connection is
// answered with an error and closed (see serveConn for the per-peer
// limits that keep peers apart).
func (a *Agent) accept(ctx context.Context, ln *net.UnixListener) error {
	var backoff time.Duration
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of descriptors and the like: wait, as net/http does,
			// instead of spinning or giving up.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			a.log.Error("accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		if a.open.Add(1) > int64(a.cfg.MaxConnections) {
			a.open.Add(-1)
			a.turnAway(conn, protocol.Fail(fmt.Sprintf("the cache agent has %d connections open, its limit; try again in a moment", a.cfg.MaxConnections)))
			continue
		}
		a.bg.Add(1)
		go func() {
			defer a.bg.Done()
			defer a.open.Add(-1)
			// A request that has started is finished even when the agent
			// is told to stop (within RequestTimeout): half-done mounts
			// would only be undone again.
			a.serveConn(context.WithoutCancel(ctx), conn)
		}()
	}
}

// sendNotify tells the service manager state, logging a failure.
func (a *Agent) sendNotify(state string) {
	if err := a.notify(state); err != nil {
		a.log.Warn("sd_notify failed", "err", err)
	}
}

// status is the STATUS= line for the service manager.
func (a *Agent) status() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.countStates()
	return fmt.Sprintf("serving: %d sealed, %d in use, %d machines watched", c.sealed, c.inUse, len(a.machines))
}

// background runs fn in a goroutine that Serve waits for.
func (a *Agent) background(fn func(ctx context.Context)) {
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		fn(a.ctx)
	}()
}

// fresh returns a context for undoing a failed request's steps: the
// request's own may be what ran out, and an agent that is stopping still
// undoes them.
func (a *Agent) fresh() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(a.ctx), a.cfg.RequestTimeout)
}
