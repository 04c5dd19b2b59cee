package status

import (
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/observe/accesslog"
)

// shards spreads the requests in flight over this many locks, so that
// Begin and End on many cores rarely meet on one.
const shards = 64

// MaxRequests is how many requests in flight the page lists, oldest first.
const MaxRequests = 50

// Options configure a Registry. The zero value is usable.
type Options struct {
	// Version is the version the page shows.
	Version string
	// Log receives the slow-request lines. Nil means none.
	Log *zap.Logger
	// SlowRequest is log.slow_request: requests that take longer get a
	// warn line when they pass it and one when they end. Zero or negative
	// means off. SetSlowRequest changes it later.
	SlowRequest time.Duration
}

// Registry keeps the requests in flight and what the status page shows
// about listeners, routes and upstream pools. Make one with New and Close
// it when done; it is safe for concurrent use.
type Registry struct {
	version string
	log     *zap.Logger
	started time.Time
	seed    maphash.Seed
	shards  [shards]shard

	slow    atomic.Int64 // time.Duration; <= 0 off
	slowSet chan struct{}
	stop    chan struct{}
	done    chan struct{}

	routeIndex atomic.Pointer[map[string]*route] // by prefix, for End

	mu        sync.Mutex
	listeners []*Listener
	routes    []*route
	config    configState
}

type shard struct {
	mu sync.Mutex
	m  map[*handler.Info]entry
	// Keep shards on their own 64-byte cache lines.
	_ [48]byte
}

// entry is one request in flight: what Begin copied from its environment
// (the environment itself may change under the request), and whether its
// running slow line went out.
type entry struct {
	l            *Listener
	method, path string
	warned       bool
}

type configState struct {
	file       string
	loaded     time.Time
	reloads    int
	lastErr    string
	lastErrAt  time.Time
	lastReload time.Time
}

// New returns a Registry and starts its one slow-request ticker.
func New(o Options) *Registry {
	r := &Registry{
		version: o.Version,
		log:     o.Log,
		started: time.Now(),
		seed:    maphash.MakeSeed(),
		slowSet: make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	for i := range r.shards {
		r.shards[i].m = make(map[*handler.Info]entry)
	}
	r.routeIndex.Store(indexRoutes(nil))
	r.slow.Store(int64(o.SlowRequest))
	go r.watch()
	return r
}

// Close stops the slow-request ticker.
func (r *Registry) Close() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}

// SetSlowRequest changes the slow-request threshold (a reload); zero or
// negative turns the slow log off.
func (r *Registry) SetSlowRequest(d time.Duration) {
	r.slow.Store(int64(d))
	select {
	case r.slowSet <- struct{}{}:
	default:
	}
}

// ConfigLoaded records the config file in use and when it was loaded.
func (r *Registry) ConfigLoaded(file string, at time.Time) {
	r.mu.Lock()
	r.config.file, r.config.loaded = file, at
	r.mu.Unlock()
}

// ConfigReloaded records a reload: its time and, when it failed, why (the
// running config then stays).
func (r *Registry) ConfigReloaded(at time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.config.reloads++
	r.config.lastReload = at
	if err != nil {
		r.config.lastErr, r.config.lastErrAt = err.Error(), at
		return
	}
	r.config.loaded = at
}

// Listener returns the Observer of one listener, made on first use: give it
// to the listener's handler.Handler, and its connection events to
// ConnOpened and ConnClosed.
func (r *Registry) Listener(name, protocol string) *Listener {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.listeners {
		if l.name == name {
			return l
		}
	}
	l := &Listener{r: r, name: name, protocol: protocol}
	r.listeners = append(r.listeners, l)
	return l
}

// Route is one route as the page shows it. Pool and Upstream, when set,
// are called at every rendering and must answer without blocking (read
// atomics, never take a lock a stuck app could hold).
type Route struct {
	Prefix, App string
	// Pool: a cgi route's slots and queue, or a fastcgi route's upstream
	// connections.
	Pool func() Pool
	// Upstream: a fastcgi route's upstream.
	Upstream func() Upstream
}

// Pool is a cgi or fastcgi route's concurrency at one moment.
type Pool struct {
	// Limit is max_concurrency (cgi) or max_conns (fastcgi); Busy how many
	// of them are taken.
	Limit, Busy int
	// QueueSize is how many may wait (the route's queue_size, cgi or
	// fastcgi; -1 when unbounded); Waiting how many do.
	QueueSize, Waiting int
}

// Upstream is a FastCGI upstream's pool and health at one moment.
type Upstream struct {
	Address                  string
	MaxConns, InUse, Waiting int
	// Health is up, down or unknown: what the last connection attempt said.
	Health      string
	LastError   string
	LastErrorAt time.Time
}

// route is a Route with its request counters, which survive reloads that
// keep its prefix.
type route struct {
	Route
	classes [6]atomic.Uint64 // by status / 100; [0] for anything else
}

// SetRoutes replaces the routes the page lists (at start and at each
// reload). A prefix that stays keeps its counters.
func (r *Registry) SetRoutes(routes []Route) {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := make([]*route, 0, len(routes))
	for _, rc := range routes {
		nr := &route{Route: rc}
		for _, old := range r.routes {
			if old.Prefix == rc.Prefix {
				for i := range nr.classes {
					nr.classes[i].Store(old.classes[i].Load())
				}
			}
		}
		next = append(next, nr)
	}
	// Requests that end while the swap happens may count on the old
	// route; that is one request in a total, not worth a lock per End.
	r.routes = next
	r.routeIndex.Store(indexRoutes(next))
}

func indexRoutes(rs []*route) *map[string]*route {
	m := make(map[string]*route, len(rs))
	for _, rt := range rs {
		m[rt.Prefix] = rt
	}
	return &m
}

// Listener is one listener's Observer and connection counter.
type Listener struct {
	r              *Registry
	name, protocol string
	address        atomic.Pointer[string]
	conns          atomic.Int64
	total          atomic.Uint64
}

var _ handler.Observer = (*Listener)(nil)

// SetAddress records the address the listener is bound to.
func (l *Listener) SetAddress(a string) { l.address.Store(&a) }

// ConnOpened counts a connection in.
func (l *Listener) ConnOpened() { l.conns.Add(1) }

// ConnClosed counts a connection out. It takes (and ignores) the number of
// requests the connection carried, as the FastCGI front end reports it.
func (l *Listener) ConnClosed(int) { l.conns.Add(-1) }

func (r *Registry) shard(info *handler.Info) *shard {
	return &r.shards[maphash.Comparable(r.seed, info)%shards]
}

// Begin puts the request in the registry.
func (l *Listener) Begin(req *handler.Request, info *handler.Info) {
	if info == nil || req == nil {
		return
	}
	e := entry{l: l, method: req.Env["REQUEST_METHOD"], path: accesslog.Path(req.Env)}
	s := l.r.shard(info)
	s.mu.Lock()
	s.m[info] = e
	s.mu.Unlock()
}

// End takes the request out, counts it on its route and writes its slow
// line when it took longer than log.slow_request.
func (l *Listener) End(req *handler.Request, info *handler.Info, res *handler.Result) {
	if info == nil {
		return
	}
	s := l.r.shard(info)
	s.mu.Lock()
	e, ok := s.m[info]
	delete(s.m, info)
	s.mu.Unlock()
	l.total.Add(1)
	if res != nil && info.Route != "" {
		if rt := (*l.r.routeIndex.Load())[info.Route]; rt != nil {
			c := res.Status / 100
			if c < 1 || c > 5 {
				c = 0
			}
			rt.classes[c].Add(1)
		}
	}
	if !ok {
		return
	}
	if slow := time.Duration(l.r.slow.Load()); slow > 0 && res != nil && res.Duration >= slow {
		l.r.slowEnded(&e, info, res)
	}
}

// watch is the one goroutine of the slow log: it scans the requests in
// flight and writes a line for each that passed the threshold, once.
func (r *Registry) watch() {
	defer close(r.done)
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		slow := time.Duration(r.slow.Load())
		if slow > 0 {
			// Late by at most a quarter of the threshold, and never
			// scanning more than a hundred times a second.
			t.Reset(min(max(slow/4, 10*time.Millisecond), time.Second))
		} else {
			t.Stop()
		}
		select {
		case <-r.stop:
			return
		case <-r.slowSet:
		case <-t.C:
			if slow > 0 {
				r.scanSlow(slow)
			}
		}
	}
}

type running struct {
	e    entry
	info *handler.Info
}

func (r *Registry) scanSlow(slow time.Duration) {
	var found []running
	now := time.Now()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for info, e := range s.m {
			if !e.warned && now.Sub(info.Start) >= slow {
				e.warned = true
				s.m[info] = e
				found = append(found, running{e, info})
			}
		}
		s.mu.Unlock()
	}
	slices.SortFunc(found, func(a, b running) int { return a.info.Start.Compare(b.info.Start) })
	for _, f := range found {
		r.log.Warn("slow request still running", slowFields(&f.e, f.info, now.Sub(f.info.Start), nil)...)
	}
}

func (r *Registry) slowEnded(e *entry, info *handler.Info, res *handler.Result) {
	r.log.Warn("slow request", slowFields(e, info, res.Duration, res)...)
}

// slowFields are the fields of both slow lines: who the request is, where
// it went, and its phases so far.
func slowFields(e *entry, info *handler.Info, d time.Duration, res *handler.Result) []zap.Field {
	lv := info.Live()
	f := make([]zap.Field, 0, 20)
	f = append(f,
		zap.String("request_id", info.ID),
		zap.String("listener", e.l.name),
		zap.String("protocol", info.Protocol),
		zap.String("method", e.method),
		zap.String("path", e.path),
		zap.String("route", lv.Route),
		zap.String("app", lv.App),
	)
	if res == nil {
		f = append(f, zap.String("phase", lv.Phase.String()))
	}
	if lv.Script != "" {
		f = append(f, zap.String("script", lv.Script), zap.Int("pid", lv.Pid))
	}
	if lv.Upstream != "" {
		f = append(f, zap.String("upstream", lv.Upstream))
	}
	if lv.QueueWait >= 0 {
		f = append(f, zap.Duration("queue_wait", lv.QueueWait))
	}
	if lv.Connect >= 0 {
		f = append(f, zap.Duration("upstream_connect", lv.Connect))
	}
	if lv.FirstByte > 0 {
		f = append(f, zap.Duration("first_byte", lv.FirstByte))
	}
	f = append(f, zap.Duration("duration", d))
	if res != nil {
		f = append(f, zap.Int("status", res.Status))
	}
	return f
}
