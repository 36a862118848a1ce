package agent

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/rigplan/rigplan/cache/protocol"
)

// The per-peer limits (DESIGN.md, "Threat model of the agent"): one
// machine cannot exhaust the agent for the others. A peer is a declared
// machine, by name (all its boots), or a host user (only root is served:
// the operator). What a peer may have under way at once:
//
//	connections       MaxConnectionsPerPeer   refused at once beyond it
//	ls and stats      MaxListingsPerMachine   refused at once beyond it
//	snapshot creates  one                     further ones queue behind it
//	caches in use     MaxInUsePerMachine      refused (per machine boot)
//
// Refusals happen before anything costly: the peer is identified from
// the kernel before a byte is read, and a peer the agent does not serve
// gets its answer at once, never holding a slot.

// load is what one peer has under way. Guarded by Agent.mu.
type load struct {
	conns, listings int
}

// peerKey names the peer of c for the per-peer limits.
func (c *call) peerKey() string {
	if c.who.machine != nil {
		return "machine " + c.who.machine.Name
	}
	if c.who.cred.PID == 0 {
		return "an unidentified peer"
	}
	return fmt.Sprintf("host uid %d", c.who.cred.UID)
}

// admit counts a connection of c's peer, refusing it past the limit.
func (a *Agent) admit(c *call) (release func(), fail *protocol.Response) {
	key := c.peerKey()
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.peers[key]
	if l == nil {
		l = &load{}
		a.peers[key] = l
	}
	if l.conns >= a.cfg.MaxConnectionsPerPeer {
		a.stats.refusedBusy++
		return nil, protocol.Fail(fmt.Sprintf("%s already has %d connections open to the cache agent, its limit: each connection carries one request and ends with its answer; do not leave connections open", key, l.conns))
	}
	l.conns++
	return func() { a.unload(key, func(l *load) { l.conns-- }) }, nil
}

// listingSlot counts an ls or stats of c's peer, refusing it past the
// limit.
func (a *Agent) listingSlot(c *call) (release func(), fail *protocol.Response) {
	key := c.peerKey()
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.peers[key] // admit made it
	if l.listings >= a.cfg.MaxListingsPerMachine {
		a.stats.refusedBusy++
		return nil, protocol.Fail(fmt.Sprintf("%s already has %d ls or stats requests being answered, its limit; wait for them and ask again", key, l.listings))
	}
	l.listings++
	return func() { a.unload(key, func(l *load) { l.listings-- }) }, nil
}

// unload undoes one count of peer key, dropping its record once idle.
func (a *Agent) unload(key string, undo func(*load)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.peers[key]
	undo(l)
	if *l == (load{}) {
		delete(a.peers, key)
	}
}

// machineSlot waits for machine's one slot for making snapshots.
func (a *Agent) machineSlot(ctx context.Context, c *call, machine string) (func(), *protocol.Response) {
	a.mu.Lock()
	slot := a.machineCreates[machine]
	if slot == nil {
		// One per declared machine name: bounded by the configuration.
		slot = make(chan struct{}, 1)
		a.machineCreates[machine] = slot
	}
	a.mu.Unlock()
	select {
	case slot <- struct{}{}:
		return func() { <-slot }, nil
	case <-ctx.Done():
		return nil, protocol.Fail(fmt.Sprintf("this machine's earlier mount or save did not finish within %v (request %d); try again", a.cfg.RequestTimeout, c.id))
	}
}

// inUseBy counts the caches machine boot rec has in use or being
// mounted. Call with a.mu held.
func (a *Agent) inUseBy(rec *machine) int {
	n := 0
	for _, e := range a.snaps {
		if e.machine == rec && e.inUse() {
			n++
		}
	}
	return n
}

// checkAnnotations refuses annotations over MaxAnnotationBytes.
func (a *Agent) checkAnnotations(annotations []string) *protocol.Response {
	n := 0
	for _, t := range annotations {
		n += len(t)
	}
	if n > a.cfg.MaxAnnotationBytes {
		return protocol.Fail(fmt.Sprintf("the annotations are %d bytes, over the limit of %d per snapshot; use fewer or shorter terms (a hash of a long one, say)", n, a.cfg.MaxAnnotationBytes))
	}
	return nil
}

// logLimiter lets a line per key through every interval, and counts the
// ones it held back.
type logLimiter struct {
	mu       sync.Mutex
	interval time.Duration
	next     map[string]time.Time
	held     map[string]int
}

// allow reports whether a line for key may be logged now, and how many
// were held back since the last one.
func (l *logLimiter) allow(key string, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next == nil {
		l.next, l.held = map[string]time.Time{}, map[string]int{}
	}
	if now.Before(l.next[key]) {
		l.held[key]++
		return false, 0
	}
	if len(l.next) > 1024 { // keys that went quiet
		for k, t := range l.next {
			if now.After(t) {
				delete(l.next, k)
				delete(l.held, k)
			}
		}
	}
	held := l.held[key]
	l.next[key], l.held[key] = now.Add(l.interval), 0
	return true, held
}

// firstByte reads a request with two deadlines: its first byte must
// come within FirstByteTimeout of the connection's start, the whole of
// it within ReadTimeout.
type firstByte struct {
	conn    *net.UnixConn
	full    time.Time
	started bool
}

func (r *firstByte) Read(p []byte) (int, error) {
	n, err := r.conn.Read(p)
	if n > 0 && !r.started {
		r.started = true
		if derr := r.conn.SetReadDeadline(r.full); derr != nil && err == nil {
			err = derr
		}
	}
	return n, err
}

// turnAway answers a connection the agent will not serve and closes
// it, without reading its request or holding a goroutine for it.
func (a *Agent) turnAway(conn *net.UnixConn, resp *protocol.Response) {
	c := &call{id: a.requests.Add(1), log: a.log}
	a.answer(conn, c, resp)
	drain(conn)
	conn.Close()
	a.count(resp)
}

// drain reads, without waiting, what a client already sent, after the
// answer went out to a request the agent did not read: closing a unix
// socket with unread data resets it, and the client might then not
// read the answer. What has not arrived yet is not waited for.
func drain(conn *net.UnixConn) {
	conn.CloseWrite()
	if err := conn.SetReadDeadline(time.Now()); err != nil {
		return
	}
	buf := make([]byte, 4096)
	for range 16 {
		if _, err := conn.Read(buf); err != nil {
			return
		}
	}
}
