// Several upstream addresses as one: DNS resolution of "dns:" members,
// back-off, least-in-flight balancing and the one queue for all members. It
// is one file (over 400 lines) on purpose: the resolver, the balancer and
// the queue all change members under one lock, and whatever frees a slot
// wakes the first request in the queue (notify); split, the rules of that
// lock would stand in several files.

package fcgiupstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gatewayd/core/event"
)

// Resolver looks up the addresses of a name; *net.Resolver is one. Tests
// inject their own, so that a name can resolve to several local addresses
// and change between lookups without touching /etc/hosts or a DNS server.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Back-off of an address that failed: it doubles from backoffMin with every
// failure in a row, up to backoffMax.
const (
	backoffMin = 500 * time.Millisecond
	backoffMax = 30 * time.Second
)

// member is one address of a fleet: its own pool (max_conns, idle
// connections, hang-up checks), and what the balancer knows of it.
type member struct {
	addr      string // as configured or resolved: "unix:/path", "host:port"
	p         *pool
	inFlight  int // requests holding one of its connections
	failures  int // failures in a row
	downUntil time.Time
	draining  bool // removed by DNS: no new requests, closed when idle
}

// fleet spreads requests over several upstream addresses: the one with the
// fewest requests in flight among those not backing off, each within its own
// max_conns. When all are busy a request waits in one queue for any of them.
type fleet struct {
	static   []string // addresses as configured, "dns:" ones included
	resolver Resolver
	interval time.Duration
	cfg      poolConfig
	obs      Observer

	waiting atomic.Int64
	lastErr atomic.Pointer[poolError]

	mu        sync.Mutex
	members   []*member
	queue     []*waiter // requests waiting for a slot, first come first served
	resolved  bool      // the first resolution is done
	next      int       // where pick starts, so that ties take turns
	closed    bool
	stop      chan struct{}
	done      chan struct{}
	checkDone chan struct{} // closed when the health checks stopped (or never ran)
}

// fleetAddr splits a configured address: "dns:name:port" resolves name.
func fleetAddr(s string) (name, port string, dns bool, err error) {
	rest, ok := strings.CutPrefix(s, "dns:")
	if !ok {
		if _, _, err := parseUpstream(s); err != nil {
			return "", "", false, err
		}
		return "", "", false, nil
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil || host == "" || port == "" {
		return "", "", false, fmt.Errorf("%w: %q", ErrBadUpstream, s)
	}
	return host, port, true, nil
}

func newFleet(addrs []string, resolver Resolver, interval time.Duration, cfg poolConfig, obs Observer) (*fleet, error) {
	f := &fleet{static: addrs, resolver: resolver, interval: interval, cfg: cfg, obs: obs,
		stop: make(chan struct{}), done: make(chan struct{}), checkDone: make(chan struct{})}
	hasDNS := false
	for _, a := range addrs {
		_, _, dns, err := fleetAddr(a)
		if err != nil {
			return nil, err
		}
		if dns {
			hasDNS = true
			continue
		}
		if err := f.add(a); err != nil {
			return nil, err
		}
	}
	if !hasDNS {
		f.resolved = true
		close(f.done)
	} else {
		go f.resolveLoop()
	}
	return f, nil
}

// add makes addr a member. Called with mu held, or before the fleet is
// shared.
func (f *fleet) add(addr string) error {
	network, address, err := parseUpstream(addr)
	if err != nil {
		return err
	}
	m := &member{addr: addr}
	m.p = newPool(network, address, f.cfg, memberObserver{f})
	f.members = append(f.members, m)
	return nil
}

// startChecks starts the active health checks, every interval; probe is
// the request to send, nil for FCGI_GET_VALUES. Without it, checkDone is
// closed at once.
func (f *fleet) startChecks(interval time.Duration, probe []byte) {
	if interval <= 0 {
		close(f.checkDone)
		return
	}
	go f.checkLoop(interval, probe)
}

// resolveLoop resolves the dns: addresses now and every interval, until
// the fleet is closed.
func (f *fleet) resolveLoop() {
	defer close(f.done)
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		f.resolve()
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
	}
}

// resolve looks the dns: addresses up and makes the members what they name
// (besides the static ones): new addresses join, vanished ones drain their
// requests and close. A failed lookup keeps what was there.
func (f *fleet) resolve() {
	want := map[string]bool{}
	for _, a := range f.static {
		name, port, dns, _ := fleetAddr(a)
		if !dns {
			want[a] = true
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), f.cfg.connectTimeout)
		hosts, err := f.resolver.LookupHost(ctx, name)
		cancel()
		if err != nil {
			f.mu.Lock()
			for _, m := range f.members {
				if !m.draining {
					want[m.addr] = true
				}
			}
			f.mu.Unlock()
			continue
		}
		for _, h := range hosts {
			want[net.JoinHostPort(h, port)] = true
		}
	}
	var closing []*pool
	defer func() {
		// Outside the lock: closing reports the pool's numbers, which
		// sums the fleet's.
		for _, p := range closing {
			p.close()
		}
	}()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	have := map[string]bool{}
	kept := f.members[:0]
	for _, m := range f.members {
		have[m.addr] = true
		if !want[m.addr] && !m.draining {
			m.draining = true
			closing = append(closing, m.p) // idle ones now, the rest as they come back
		}
		if m.draining && m.inFlight == 0 {
			continue
		}
		kept = append(kept, m)
	}
	clear(f.members[len(kept):])
	f.members = kept
	for a := range want {
		if !have[a] {
			_ = f.add(a)
		}
	}
	f.resolved = true
	f.notify()
}

// notify wakes the first request in the queue, after a slot freed or the
// members changed: it takes the slot, if there is one, and wakes the next
// (turn). One wake-up per change, not one per waiting request, and in the
// order they came. Called with mu held.
func (f *fleet) notify() {
	if len(f.queue) > 0 {
		select {
		case f.queue[0].ready <- struct{}{}:
		default: // woken already
		}
	}
}

// turn takes a slot for a request whose turn it is: no one is queued, or
// *w heads the queue. Otherwise, or when every usable member is full, the
// request keeps (or takes, in *w) its place at the end of the queue, and
// turn returns nil; full when the queue holds queueSize already.
func (f *fleet) turn(w **waiter, exclude *member) (m *member, full bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queue) == 0 || f.queue[0] == *w {
		if m = f.pick(exclude); m != nil {
			if *w != nil {
				f.queue[0] = nil
				f.queue = f.queue[1:]
				f.waiting.Add(-1)
				*w = nil
				f.notify() // the next in line may find a slot too
			}
			return m, false
		}
	}
	if *w == nil {
		if len(f.queue) >= f.cfg.queueSize {
			return nil, true
		}
		*w = &waiter{ready: make(chan struct{}, 1)}
		f.queue = append(f.queue, *w)
		f.waiting.Add(1)
	}
	return nil, false
}

// leave takes a request that gives up off the queue; at its head, it
// passes its turn on.
func (f *fleet) leave(w *waiter) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, o := range f.queue {
		if o == w {
			f.queue = slices.Delete(f.queue, i, i+1)
			f.waiting.Add(-1)
			if i == 0 {
				f.notify()
			}
			return
		}
	}
}

// pick takes a token of the best member for a new request: the fewest in
// flight among the members not backing off; when every member is backing
// off, the one whose back-off ends first (a probe). It returns nil when
// every usable member is full. Called with mu held.
func (f *fleet) pick(exclude *member) *member {
	now := time.Now()
	var best, probe *member
	healthy := 0
	n := len(f.members)
	f.next++
	for i := range n {
		m := f.members[(f.next+i)%n]
		if m.draining || m == exclude {
			continue
		}
		if now.Before(m.downUntil) {
			if m.p.hasRoom() && (probe == nil || m.downUntil.Before(probe.downUntil)) {
				probe = m
			}
			continue
		}
		healthy++
		if m.p.hasRoom() && (best == nil || m.inFlight < best.inFlight) {
			best = m
		}
	}
	if best == nil && healthy == 0 {
		best = probe
	}
	if best == nil || !best.p.tryToken() {
		return nil
	}
	best.inFlight++
	return best
}

// get returns a connection to one of the members, waiting in the fleet's
// queue when all are busy (the pool's rules: queueSize, queueTimeout, 503).
// A connection that cannot be made is tried once more on another member: no
// byte of the request was sent.
func (f *fleet) get(ctx context.Context, mode reuse) (*upstreamConn, error) {
	var exclude *member
	retried, observed := false, false
	for {
		m, waited, err := f.slot(ctx, exclude)
		if err != nil {
			return nil, err
		}
		// One wait per request, however often it was sent to another
		// member.
		if !observed && f.obs != nil {
			f.obs.QueueWait(waited)
		}
		observed = true
		c, err := m.p.take(ctx, mode, waited)
		if err == nil {
			c.member = m
			return c, nil
		}
		f.finish(m, false, ctx.Err() == nil)
		if errors.Is(err, ErrConnect) && !retried && f.others(m) {
			retried, exclude = true, m
			if f.obs != nil {
				f.obs.Retried()
			}
			continue
		}
		return nil, err
	}
}

// slot takes a token of a member for a request, waiting in the queue when
// every usable member is full (the pool's rules: queueSize, queueTimeout,
// 503), and returns how long it waited.
func (f *fleet) slot(ctx context.Context, exclude *member) (*member, time.Duration, error) {
	var start time.Time
	var timer *time.Timer
	var clock queueClock
	var w *waiter // the request's place in the queue, while it has one
	for {
		m, full := f.turn(&w, exclude)
		if m != nil {
			var waited time.Duration
			if timer != nil {
				waited = time.Since(start)
			}
			return m, waited, nil
		}
		if full {
			if f.obs != nil {
				f.obs.Rejected(event.RejectQueueFull)
			}
			return nil, 0, fmt.Errorf("%w: queue full (queue_size %d)", ErrBusy, f.cfg.queueSize)
		}
		if timer == nil {
			start = time.Now()
			timer = clock.start(start, f.cfg.queueTimeout)
			defer timer.Stop()
		}
		select {
		case <-w.ready:
		case <-timer.C:
			expired, err := clock.tick(ctx)
			if err == nil && !expired {
				continue
			}
			f.leave(w)
			if err != nil {
				return nil, 0, err
			}
			if f.obs != nil {
				f.obs.Rejected(event.RejectQueueTimeout)
			}
			return nil, 0, fmt.Errorf("%w: no connection within queue_timeout %v", ErrBusy, f.cfg.queueTimeout)
		}
	}
}

// others reports whether a member besides m could take a request.
func (f *fleet) others(m *member) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.members {
		if o != m && !o.draining {
			return true
		}
	}
	return false
}

// finish ends a request's hold on m: ok clears its back-off, a failure
// (when it was the upstream's: failed) lengthens it.
func (f *fleet) finish(m *member, ok, failed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m.inFlight--
	switch {
	case ok:
		m.failures, m.downUntil = 0, time.Time{}
	case failed:
		m.failures++
		d := min(backoffMin<<min(m.failures-1, 10), backoffMax)
		m.downUntil = time.Now().Add(d)
	}
	f.notify()
}

// put gives a connection back, and tells the balancer how its request went.
func (f *fleet) put(c *upstreamConn, keep bool, outcome Outcome) {
	m := c.member
	c.member = nil
	m.p.put(c, keep)
	f.finish(m, outcome == OutcomeOK, outcome == OutcomeProtocol || outcome == OutcomeTimeout)
}

// failed records why a request failed, for the status page.
func (f *fleet) failed(err error) {
	f.lastErr.Store(&poolError{at: time.Now(), msg: err.Error()})
}

// stats sums the members for the status page: up when any address is.
func (f *fleet) stats(s *Stats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s.Waiting, s.QueueSize = int(f.waiting.Load()), f.cfg.queueSize
	for _, m := range f.members {
		if m.draining {
			continue
		}
		s.MaxConns += cap(m.p.tokens)
		s.InUse += len(m.p.tokens)
		switch h := Health(m.p.health.Load()); {
		case h == HealthUp:
			s.Health = HealthUp
		case h == HealthDown && s.Health == HealthUnknown:
			s.Health = HealthDown
		}
	}
	if e := f.lastErr.Load(); e != nil {
		s.LastError, s.LastErrorAt = e.msg, e.at
	}
}

// report sums the members' pools for the Observer.
func (f *fleet) report() {
	if f.obs == nil {
		return
	}
	f.mu.Lock()
	inUse, open := 0, 0
	for _, m := range f.members {
		i, o, _ := m.p.stats()
		inUse += i
		open += o
	}
	f.mu.Unlock()
	f.obs.Pool(inUse, open)
}

// close stops the resolution and closes every member's pool.
func (f *fleet) close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	members := f.members
	f.mu.Unlock()
	close(f.stop)
	<-f.done
	<-f.checkDone
	for _, m := range members {
		m.p.close()
	}
}

// memberObserver passes a member pool's news on: its pool numbers summed
// over the fleet, the rest as it is.
type memberObserver struct{ f *fleet }

var _ Observer = memberObserver{}

func (o memberObserver) Request(Outcome, time.Duration) {}
func (o memberObserver) Pool(int, int)                  { o.f.report() }
func (o memberObserver) QueueWait(time.Duration)        {}
func (o memberObserver) Rejected(event.Rejection)       {}
func (o memberObserver) Retried()                       {}
func (o memberObserver) Health(a string, n int, up bool) {
	if o.f.obs != nil {
		o.f.obs.Health(a, n, up)
	}
}
