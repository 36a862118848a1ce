package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/rigplan/rigplan/cache/inject"
	"github.com/rigplan/rigplan/cache/protocol"
	"github.com/rigplan/rigplan/cache/store"
)

// call is one request being served.
type call struct {
	id  uint64
	log *slog.Logger
	who peer
	req *protocol.Request
	// after run, last first, once the answer has gone out: the counts
	// of the per-peer limits the request holds until then.
	after []func()
	// unread is set when the answer goes out before the request was
	// read (a refused peer, a connection over its peer's limit): what
	// the client sent is drained first, so that it sees the answer.
	unread bool
}

// serveConn serves one connection: identify the peer, read one request
// under a read deadline, answer it with one response, close. Whatever
// goes wrong, the client gets an error line (if it is still there) and
// the agent goes on; a panic is logged and answered like any failure.
func (a *Agent) serveConn(ctx context.Context, conn *net.UnixConn) {
	defer conn.Close()
	c := &call{id: a.requests.Add(1)}
	c.log = a.log.With("request", c.id)
	ctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	defer cancel()
	start := time.Now()
	var resp *protocol.Response
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("request panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			resp = c.internal("the request", fmt.Errorf("panic: %v", r))
		}
		a.answer(conn, c, resp)
		for i := len(c.after) - 1; i >= 0; i-- {
			c.after[i]()
		}
		if c.unread {
			drain(conn)
		}
		a.count(resp)
		attrs := []any{"peer", c.who.String(), "ok", resp.OK, "took", time.Since(start).Round(time.Microsecond)}
		if c.req != nil {
			attrs = append(attrs, "command", string(c.req.Command))
		}
		if !resp.OK {
			attrs = append(attrs, "reason", resp.Reason)
		}
		if c.unread {
			// A flood of refused connections must not flood the
			// journal: one line per peer every few seconds.
			log, held := a.quiet.allow(c.peerKey(), time.Now())
			if !log {
				return
			}
			if held > 0 {
				attrs = append(attrs, "refusals_not_logged", held)
			}
		}
		c.log.Info("request", attrs...)
	}()
	resp = a.serve(ctx, conn, c)
}

// serve does serveConn's work and returns the answer. The peer is
// identified before anything is read, and a peer the agent does not
// serve, or one over its connection limit, is answered at once: it
// costs no slot and no wait.
func (a *Agent) serve(ctx context.Context, conn *net.UnixConn, c *call) *protocol.Response {
	start := time.Now()
	who, idErr := a.identify(ctx, conn)
	c.who = who
	switch {
	case idErr != nil && errors.Is(idErr, inject.ErrRefused):
		c.unread = true
		return protocol.Fail(idErr.Error() + "; only declared machines may use the cache")
	case idErr != nil:
		c.unread = true
		return c.internal("identifying the peer", idErr)
	}
	release, fail := a.admit(c)
	if fail != nil {
		c.unread = true
		return fail
	}
	c.after = append(c.after, release)
	if err := conn.SetReadDeadline(start.Add(a.cfg.FirstByteTimeout)); err != nil {
		return c.internal("setting a read deadline", err)
	}
	r := &firstByte{conn: conn, full: start.Add(a.cfg.ReadTimeout)}
	req, err := protocol.ReadRequest(r, a.cfg.Limits)
	if err != nil {
		if !r.started && errors.Is(err, os.ErrDeadlineExceeded) {
			return protocol.Fail(fmt.Sprintf("no request arrived within %v of connecting: send the request as soon as the connection is open", a.cfg.FirstByteTimeout))
		}
		return protocol.Fail(err.Error())
	}
	c.req = req
	return a.dispatch(ctx, c)
}

// answer writes resp, bounded by WriteTimeout. A client that went away
// is not an error worth more than a debug line.
func (a *Agent) answer(conn *net.UnixConn, c *call, resp *protocol.Response) {
	if err := conn.SetWriteDeadline(time.Now().Add(a.cfg.WriteTimeout)); err != nil {
		c.log.Debug("set write deadline", "err", err)
	}
	if err := protocol.WriteResponse(conn, resp); err != nil {
		c.log.Debug("the answer did not go out", "err", err)
	}
}

// dispatch runs the request's command for its peer.
func (a *Agent) dispatch(ctx context.Context, c *call) *protocol.Response {
	req := c.req
	switch req.Command {
	case protocol.CommandMount, protocol.CommandSave:
		if c.who.machine == nil {
			return protocol.Fail(fmt.Sprintf("%s is for jobs inside a declared machine; on the host, mount or copy the store's snapshots by hand", req.Command))
		}
		if req.Command == protocol.CommandMount {
			return a.mount(ctx, c, *c.who.machine)
		}
		return a.save(ctx, c, *c.who.machine)
	case protocol.CommandList, protocol.CommandStats:
		release, fail := a.listingSlot(c)
		if fail != nil {
			return fail
		}
		// The listing is streamed after this returns: the slot is held
		// until the answer has gone out.
		c.after = append(c.after, release)
		if req.Command == protocol.CommandStats {
			return a.statsResponse(ctx, c)
		}
		return a.list(c)
	case protocol.CommandEcho:
		return protocol.OK(req.Text)
	case protocol.CommandGC, protocol.CommandRemove:
		if !c.who.admin {
			return protocol.Fail(fmt.Sprintf("%s is for the host's operator: run rigplan cache %s as root on the host, outside the machines", req.Command, req.Command))
		}
		if req.Command == protocol.CommandGC {
			return a.gcResponse(ctx, c, req.DryRun)
		}
		return a.rm(ctx, c, req.Name)
	case protocol.CommandRunnerConfig, protocol.CommandRegistrationToken:
		if c.who.machine == nil {
			return protocol.Fail(fmt.Sprintf("%s is for a machine's runner at boot; on the host, use GitHub's settings", req.Command))
		}
		return a.runnerIdentity(ctx, c, *c.who.machine)
	}
	return protocol.Fail(fmt.Sprintf("command %s is not served by this agent", req.Command))
}

// internal logs a failure of the agent's own (not the client's) and
// returns the answer for it: what failed, without internals, and where
// the operator finds them.
func (c *call) internal(what string, err error) *protocol.Response {
	c.log.Error(what+" failed", "err", err)
	return protocol.Fail(fmt.Sprintf("the cache agent failed at %s (request %d); the host's operator finds the details in the agent's log; try again later", what, c.id))
}

// storeFailure is the answer for a store operation that failed: a full
// store is the client's to know about, in words (which store, how full,
// what happens now), and counted; anything else is the agent's failure.
func (a *Agent) storeFailure(c *call, what string, err error) *protocol.Response {
	var full *store.FullError
	if !errors.As(err, &full) {
		return c.internal(what, err)
	}
	c.log.Warn(what+" failed: the store is full", "err", err)
	a.mu.Lock()
	a.stats.refusedFull++
	a.mu.Unlock()
	use := ""
	if full.Usage != nil {
		use = ", " + full.Usage.String()
	}
	return protocol.Fail(fmt.Sprintf("the cache store (%s%s) is full: no snapshot was made and the job runs without this cache; the host's operator can free space (rigplan cache gc, rigplan cache rm) or grow the store", full.Store, use))
}

// refusal turns an error from package inject into the answer for it:
// the client's own mistakes (a bad path, a machine that is gone) carry a
// reason meant for it; anything else is the agent's failure.
func (c *call) refusal(what string, err error) *protocol.Response {
	if errors.Is(err, inject.ErrBadPath) || errors.Is(err, inject.ErrRefused) || errors.Is(err, inject.ErrNotRunning) {
		return protocol.Fail(err.Error())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return protocol.Fail(fmt.Sprintf("the request took longer than the agent allows; it was undone (request %d); try again", c.id))
	}
	return c.internal(what, err)
}
