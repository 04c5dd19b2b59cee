// One upstream address's connections: the token bound, the idle list and
// its reaper, dialing, and the numbers the status page reads. It is one file
// (just over 400 lines) on purpose: every function here keeps the one
// invariant stated on pool (idle + tokens held ≤ MaxConns), and reading it
// should not need a second file; Stats and Health are the pool's own
// numbers, read without its lock.

package fcgiupstream

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gatewayd/core/event"
	"github.com/gatewayd/gatewayd/internal/rawio"
)

// pool holds the connections to the upstream. Its bound is exact: a request
// holds a token from tokens while it uses a connection, and an idle
// connection holds none, so the invariant is idle + tokens held ≤ MaxConns.
// It holds because a token taker always takes an idle connection when there
// is one (using it, or closing it to dial a fresh one) and dials only when
// there is none, and a connection goes idle only as its token is given back.
type pool struct {
	network, address string
	connectTimeout   time.Duration
	ioTimeout        time.Duration
	idleTimeout      time.Duration // < 0: no keep-alive
	queueSize        int64
	queueTimeout     time.Duration
	native           bool
	obs              Observer

	tokens chan struct{}

	// The requests waiting for a token, first come first served: a token
	// given back goes to the first of them (release) instead of being
	// freed, so that a request keeps its place however long it waits.
	qmu   sync.Mutex
	queue []*waiter

	// What the status page reads without the lock: requests waiting for a
	// token, the outcome of the last dial, and the last failure.
	waiting atomic.Int64
	health  atomic.Int32 // a Health
	lastErr atomic.Pointer[poolError]

	mu     sync.Mutex
	idle   []*upstreamConn // newest last
	open   int
	inUse  int
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

// poolConfig is what a pool is made of; Config's fields with defaults
// applied.
type poolConfig struct {
	maxConns, queueSize                                  int
	queueTimeout, connectTimeout, ioTimeout, idleTimeout time.Duration
	native                                               bool
}

// hasRoom reports whether a token is free now.
func (p *pool) hasRoom() bool { return len(p.tokens) < cap(p.tokens) }

// tryToken takes a token if one is free.
func (p *pool) tryToken() bool {
	select {
	case p.tokens <- struct{}{}:
		return true
	default:
		return false
	}
}

func newPool(network, address string, cfg poolConfig, obs Observer) *pool {
	p := &pool{
		network: network, address: address,
		connectTimeout: cfg.connectTimeout, ioTimeout: cfg.ioTimeout, idleTimeout: cfg.idleTimeout,
		queueSize: int64(cfg.queueSize), queueTimeout: cfg.queueTimeout, native: cfg.native,
		obs:    obs,
		tokens: make(chan struct{}, cfg.maxConns),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if cfg.idleTimeout > 0 {
		go p.reap()
	} else {
		close(p.done)
	}
	return p
}

// reuse says which connection a request may take.
type reuse uint8

const (
	// reuseChecked takes an idle connection only after a peek at its
	// socket finds the upstream still holding it: for a request that could
	// not be sent again if the connection turned out closed.
	reuseChecked reuse = iota
	// reuseAny takes an idle connection unchecked, as nginx does: a request
	// that finds it closed before any byte of the answer is sent again on
	// a new one (forward's retry), so the peek, a system call per request,
	// buys nothing.
	reuseAny
	// reuseNone dials: the retry after a stale connection.
	reuseNone
)

// get returns a connection, reused or new. When every connection is busy
// it waits in the queue, at most queueTimeout and only while fewer than
// queueSize others wait. The error wraps ErrBusy or ErrConnect, or is ctx's
// error when the client went away. The wait's bound is not ctx's: a token
// that frees up at the wait's last moment is used, and the dial that may
// follow has its own connect timeout.
func (p *pool) get(ctx context.Context, mode reuse) (*upstreamConn, error) {
	var waited time.Duration
	select {
	case p.tokens <- struct{}{}:
		if p.obs != nil {
			p.obs.QueueWait(0)
		}
	default:
		var err error
		if waited, err = p.wait(ctx); err != nil {
			return nil, err
		}
	}
	return p.take(ctx, mode, waited)
}

// take returns a connection for a caller that holds a token (which it gives
// back on an error): an idle one, or a new one.
func (p *pool) take(ctx context.Context, mode reuse, waited time.Duration) (*upstreamConn, error) {
	p.mu.Lock()
	p.inUse++
	p.mu.Unlock()
	for {
		c := p.popIdle()
		if c == nil {
			break
		}
		if mode == reuseAny || mode == reuseChecked && c.alive() {
			c.reused = true
			c.waited, c.dialed = waited, 0
			p.report()
			return c, nil
		}
		// A fresh connection takes the place of an idle one, or the
		// bound would not hold.
		p.discard(c)
		if mode == reuseNone {
			break
		}
	}
	start := time.Now()
	c, err := p.dial(ctx)
	if err != nil {
		p.mu.Lock()
		p.inUse--
		p.mu.Unlock()
		p.release()
		p.report()
		return nil, err
	}
	c.waited, c.dialed = waited, time.Since(start)
	return c, nil
}

// waiter is a request in the queue; release hands it a token through
// ready. (Not pooled: a request that queues waits far longer than its
// two allocations take.)
type waiter struct {
	ready  chan struct{} // one token, handed over by release
	handed bool          // under qmu: release took it off the queue for a token
}

// wait takes a token, queued, and returns how long it waited. The queue is
// first come, first served: the request waits in its place until release
// hands it a token, however often it wakes meanwhile to look at its
// context (queueClock); one that gives up leaves the queue.
func (p *pool) wait(ctx context.Context) (time.Duration, error) {
	if p.waiting.Add(1) > p.queueSize {
		p.waiting.Add(-1)
		if p.obs != nil {
			p.obs.Rejected(event.RejectQueueFull)
		}
		return 0, fmt.Errorf("%w: queue full (max_conns %d, queue_size %d)", ErrBusy, cap(p.tokens), p.queueSize)
	}
	defer p.waiting.Add(-1)
	start := time.Now()
	w := p.enqueue()
	if w == nil {
		// A token came free before the request could queue.
		if p.obs != nil {
			p.obs.QueueWait(0)
		}
		return 0, nil
	}
	var q queueClock
	t := q.start(start, p.queueTimeout)
	defer t.Stop()
	for {
		select {
		case <-w.ready:
			waited := time.Since(start)
			if p.obs != nil {
				p.obs.QueueWait(waited)
			}
			return waited, nil
		case <-t.C:
			expired, err := q.tick(ctx)
			if err == nil && !expired {
				continue
			}
			p.leave(w)
			if err != nil {
				return 0, err
			}
			if p.obs != nil {
				p.obs.Rejected(event.RejectQueueTimeout)
			}
			return 0, fmt.Errorf("%w: no connection within queue_timeout %v (max_conns %d)", ErrBusy, p.queueTimeout, cap(p.tokens))
		}
	}
}

// enqueue puts a waiter at the end of the queue, unless a token is free
// by now (then it takes it and returns nil): a token freed between get's
// first try and here must not go unused while the request waits for the
// next one.
func (p *pool) enqueue() *waiter {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	if p.tryToken() {
		return nil
	}
	w := &waiter{ready: make(chan struct{}, 1)}
	p.queue = append(p.queue, w)
	return w
}

// leave takes a waiter that gives up off the queue. If release handed it a
// token meanwhile, the token goes on to the next in line.
func (p *pool) leave(w *waiter) {
	p.qmu.Lock()
	if !w.handed {
		for i, o := range p.queue {
			if o == w {
				p.queue = slices.Delete(p.queue, i, i+1)
				break
			}
		}
		p.qmu.Unlock()
		return
	}
	p.qmu.Unlock()
	<-w.ready
	p.release()
}

// release gives a token back: to the first request in the queue, which
// keeps it, or to the pool.
func (p *pool) release() {
	p.qmu.Lock()
	if len(p.queue) > 0 {
		w := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		w.handed = true
		p.qmu.Unlock()
		w.ready <- struct{}{}
		return
	}
	<-p.tokens
	p.qmu.Unlock()
}

// queueClock bounds a wait in the queue by queue_timeout and looks at the
// request's context every watchDelay meanwhile, rather than waiting on its
// Done channel: asking for Done makes the context's cancellation, a cost
// every queued request would pay (see watchDelay).
type queueClock struct {
	t        *time.Timer
	deadline time.Time
}

// start returns the timer to wait on.
func (q *queueClock) start(now time.Time, queueTimeout time.Duration) *time.Timer {
	q.deadline = now.Add(queueTimeout)
	q.t = time.NewTimer(min(queueTimeout, watchDelay))
	return q.t
}

// tick is called when the timer fires. It returns ctx's error when the
// client went away, expired when queue_timeout passed, and otherwise re-arms
// the timer.
func (q *queueClock) tick(ctx context.Context) (expired bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	left := time.Until(q.deadline)
	if left <= 0 {
		return true, nil
	}
	q.t.Reset(min(left, watchDelay))
	return false, nil
}

func (p *pool) popIdle() *upstreamConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	c := p.idle[n-1]
	p.idle[n-1] = nil
	p.idle = p.idle[:n-1]
	return c
}

func (p *pool) dial(ctx context.Context) (*upstreamConn, error) {
	if err := ctx.Err(); err != nil {
		// Not a connect error: the request ended before the dial began.
		return nil, err
	}
	d := net.Dialer{Timeout: p.connectTimeout}
	nc, err := d.DialContext(ctx, p.network, p.address)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p.setHealth(false)
		return nil, fmt.Errorf("%w %s: %w", ErrConnect, p.address, err)
	}
	p.setHealth(true)
	p.mu.Lock()
	p.open++
	p.mu.Unlock()
	p.report()
	return newConn(rawio.Wrap(nc), p.ioTimeout, p.native), nil
}

// put gives back a connection taken with get: kept for reuse when keep is
// set, else closed.
func (p *pool) put(c *upstreamConn, keep bool) {
	p.mu.Lock()
	p.inUse--
	if keep && !p.closed && p.idleTimeout >= 0 {
		c.idleAt = time.Now()
		p.idle = append(p.idle, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		p.discard(c)
	}
	p.release()
	p.report()
}

// discard closes a connection that is not coming back.
func (p *pool) discard(c *upstreamConn) {
	_ = c.close()
	p.mu.Lock()
	p.open--
	p.mu.Unlock()
	p.report()
}

// setHealth tells the observer when the upstream's reachability changes.
func (p *pool) setHealth(up bool) {
	v := int32(HealthDown)
	if up {
		v = int32(HealthUp)
	}
	if p.health.Swap(v) != v && p.obs != nil {
		addr := p.address
		if p.network == "unix" {
			addr = "unix:" + addr
		}
		p.obs.Health(addr, cap(p.tokens), up)
	}
}

func (p *pool) report() {
	if p.obs == nil {
		return
	}
	p.mu.Lock()
	inUse, open := p.inUse, p.open
	p.mu.Unlock()
	p.obs.Pool(inUse, open)
}

// reap closes connections idle for longer than idleTimeout, so that a burst
// does not keep upstream workers tied to connections nobody uses.
func (p *pool) reap() {
	defer close(p.done)
	t := time.NewTicker(max(p.idleTimeout/2, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			var old []*upstreamConn
			p.mu.Lock()
			kept := p.idle[:0]
			for _, c := range p.idle {
				if now.Sub(c.idleAt) >= p.idleTimeout {
					old = append(old, c)
				} else {
					kept = append(kept, c)
				}
			}
			clear(p.idle[len(kept):])
			p.idle = kept
			p.mu.Unlock()
			for _, c := range old {
				p.discard(c)
			}
		}
	}
}

// close closes the idle connections and stops keeping any; connections in
// use are closed when they come back.
func (p *pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	for _, c := range idle {
		p.discard(c)
	}
}

// stats returns the connections in use and open, for tests.
func (p *pool) stats() (inUse, open, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inUse, p.open, len(p.idle)
}

// Health is what the last attempt to connect to an upstream said.
type Health int32

// The health states.
const (
	HealthUnknown Health = iota // no connection attempted yet
	HealthUp                    // the last connection attempt succeeded
	HealthDown                  // the last connection attempt failed
)

func (h Health) String() string {
	switch h {
	case HealthUp:
		return "up"
	case HealthDown:
		return "down"
	}
	return "unknown"
}

// poolError is a failure the status page shows.
type poolError struct {
	at  time.Time
	msg string
}

// failed records why a request to the upstream failed.
func (p *pool) failed(err error) {
	p.lastErr.Store(&poolError{at: time.Now(), msg: err.Error()})
}

// Stats are an Upstream's pool numbers at one moment, for the status page.
// They are read without taking the pool's lock, so that an upstream whose
// every connection is stuck still reports them.
type Stats struct {
	// Upstream is the address as configured.
	Upstream string
	// MaxConns is the bound; InUse the connections requests hold (or are
	// dialing); Waiting the requests waiting for one, at most QueueSize.
	MaxConns, InUse, Waiting, QueueSize int
	// Health is what the last connection attempt said.
	Health Health
	// LastError is the last failure (connect, timeout, protocol) and when
	// it happened; empty when none.
	LastError   string
	LastErrorAt time.Time
}

// Stats returns the pool's numbers as they are now.
func (u *Upstream) Stats() Stats {
	if u.fleet != nil {
		// The fleet's lock is only ever held for bookkeeping, never
		// across I/O.
		s := Stats{Upstream: u.name}
		u.fleet.stats(&s)
		return s
	}
	p := u.pool
	s := Stats{
		Upstream: u.name,
		MaxConns: cap(p.tokens), InUse: len(p.tokens), Waiting: int(p.waiting.Load()),
		QueueSize: int(p.queueSize),
		Health:    Health(p.health.Load()),
	}
	if e := p.lastErr.Load(); e != nil {
		s.LastError, s.LastErrorAt = e.msg, e.at
	}
	return s
}
