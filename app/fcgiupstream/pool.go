package fcgiupstream

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
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
	obs              Observer

	tokens chan struct{}

	// What the status page reads without the lock: requests waiting for a
	// token, the outcome of the last dial, and the last failure.
	waiting atomic.Int64
	health  atomic.Int32 // a Health
	lastErr atomic.Pointer[poolError]

	mu     sync.Mutex
	idle   []*conn // newest last
	open   int
	inUse  int
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

func newPool(network, address string, maxConns int, connectTimeout, ioTimeout, idleTimeout time.Duration, obs Observer) *pool {
	p := &pool{
		network: network, address: address,
		connectTimeout: connectTimeout, ioTimeout: ioTimeout, idleTimeout: idleTimeout,
		obs:    obs,
		tokens: make(chan struct{}, maxConns),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	if idleTimeout > 0 {
		go p.reap()
	} else {
		close(p.done)
	}
	return p
}

// get returns a connection, reused or new, waiting for a token as long as
// ctx allows. The error wraps ErrTimeout or ErrConnect, or is ctx's error
// when ctx was canceled.
func (p *pool) get(ctx context.Context, fresh bool) (*conn, error) {
	var waited time.Duration
	select {
	case p.tokens <- struct{}{}:
	default:
		start := time.Now()
		p.waiting.Add(1)
		select {
		case p.tokens <- struct{}{}:
			p.waiting.Add(-1)
			waited = time.Since(start)
		case <-ctx.Done():
			p.waiting.Add(-1)
			if ctx.Err() == context.DeadlineExceeded {
				return nil, fmt.Errorf("%w: no free connection (max_conns %d)", ErrTimeout, cap(p.tokens))
			}
			return nil, ctx.Err()
		}
	}
	p.mu.Lock()
	p.inUse++
	p.mu.Unlock()
	for {
		c := p.popIdle()
		if c == nil {
			break
		}
		if !fresh && c.alive() {
			c.reused = true
			c.waited, c.dialed = waited, 0
			p.report()
			return c, nil
		}
		// A fresh connection takes the place of an idle one, or the
		// bound would not hold.
		p.discard(c)
		if fresh {
			break
		}
	}
	start := time.Now()
	c, err := p.dial(ctx)
	if err != nil {
		p.mu.Lock()
		p.inUse--
		p.mu.Unlock()
		<-p.tokens
		p.report()
		return nil, err
	}
	c.waited, c.dialed = waited, time.Since(start)
	return c, nil
}

func (p *pool) popIdle() *conn {
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

func (p *pool) dial(ctx context.Context) (*conn, error) {
	d := net.Dialer{Timeout: p.connectTimeout}
	nc, err := d.DialContext(ctx, p.network, p.address)
	if err != nil {
		if ctx.Err() == context.Canceled {
			return nil, ctx.Err()
		}
		p.health.Store(int32(HealthDown))
		return nil, fmt.Errorf("%w %s: %w", ErrConnect, p.address, err)
	}
	p.health.Store(int32(HealthUp))
	p.mu.Lock()
	p.open++
	p.mu.Unlock()
	p.report()
	return newConn(nc, p.ioTimeout), nil
}

// put gives back a connection taken with get: kept for reuse when keep is
// set, else closed.
func (p *pool) put(c *conn, keep bool) {
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
	<-p.tokens
	p.report()
}

// discard closes a connection that is not coming back.
func (p *pool) discard(c *conn) {
	_ = c.client.Close()
	p.mu.Lock()
	p.open--
	p.mu.Unlock()
	p.report()
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
			var old []*conn
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
	// dialing); Waiting the requests waiting for one.
	MaxConns, InUse, Waiting int
	// Health is what the last connection attempt said.
	Health Health
	// LastError is the last failure (connect, timeout, protocol) and when
	// it happened; empty when none.
	LastError   string
	LastErrorAt time.Time
}

// Stats returns the pool's numbers as they are now.
func (u *Upstream) Stats() Stats {
	p := u.pool
	s := Stats{
		Upstream: u.name,
		MaxConns: cap(p.tokens), InUse: len(p.tokens), Waiting: int(p.waiting.Load()),
		Health: Health(p.health.Load()),
	}
	if e := p.lastErr.Load(); e != nil {
		s.LastError, s.LastErrorAt = e.msg, e.at
	}
	return s
}
