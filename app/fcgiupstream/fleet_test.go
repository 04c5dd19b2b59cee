package fcgiupstream

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/core/event"
	"github.com/gatewayd/gatewayd/internal/gwtest"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// member upstream: Go's net/http/fcgi on l, answering with its name and
// counting what it served.
type fleetPeer struct {
	name      string
	served    atomic.Int64
	l         *countingListener
	stopServe func()
	mu        sync.Mutex
	conns     []net.Conn
}

// trackingListener lets stop close the connections it accepted, as a
// stopped php-fpm does.
type trackingListener struct {
	net.Listener
	p *fleetPeer
}

func (l trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.p.mu.Lock()
		l.p.conns = append(l.p.conns, c)
		l.p.mu.Unlock()
	}
	return c, err
}

func serveFleetPeer(t *testing.T, name string, l net.Listener) *fleetPeer {
	t.Helper()
	p := &fleetPeer{name: name}
	p.l, p.stopServe = serveFCGI(trackingListener{Listener: l, p: p}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.served.Add(1)
		// net/http/fcgi takes the query from REQUEST_URI, not
		// QUERY_STRING: the requests set both.
		if r.URL.Query().Get("slow") != "" {
			// A slow peer is the behaviour under test (requests overlap,
			// so max_conns and balancing show): this Sleep is the
			// peer's work, not a wait for readiness.
			time.Sleep(20 * time.Millisecond)
		}
		io.WriteString(w, name)
	}))
	t.Cleanup(p.stop)
	return p
}

func (p *fleetPeer) stop() {
	p.stopServe()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

func listenUnix(t *testing.T, path string) net.Listener {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestFleetBalancesAndFailsOver: two addresses share the load, each within
// its max_conns; one that goes away costs no request (its connect fails and
// the request goes to the other), is skipped while down, and is used again
// once it is back.
func TestFleetBalancesAndFailsOver(t *testing.T) {
	dir := t.TempDir()
	pathA, pathB := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	a := serveFleetPeer(t, "a", listenUnix(t, pathA))
	b := serveFleetPeer(t, "b", listenUnix(t, pathB))
	watch := &poolWatch{}
	u := newUpstream(t, Config{Upstreams: []string{"unix:" + pathA, "unix:" + pathB}, MaxConns: 2,
		Observer: watch, QueueTimeout: 10 * time.Second})
	load := func(n int, query string) map[string]int {
		var mu sync.Mutex
		got := map[string]int{}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range n / 4 {
					r := serve(t, u, reqEnv("GET", "/app.php", "QUERY_STRING", query, "REQUEST_URI", "/php/app.php?"+query), nil)
					mu.Lock()
					got[fmt.Sprint(r.status, " ", r.body)]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return got
	}
	got := load(40, "slow=1")
	if got["200 a"] == 0 || got["200 b"] == 0 || got["200 a"]+got["200 b"] != 40 {
		t.Errorf("four at a time over two addresses: %v", got)
	}
	if a.l.max.Load() > 2 || b.l.max.Load() > 2 {
		t.Errorf("connections open at once: a %d, b %d; max_conns 2 each", a.l.max.Load(), b.l.max.Load())
	}

	// b goes away: its idle connections are found dead, new ones refused.
	b.stop()
	servedB := b.served.Load()
	got = load(40, "")
	if got["200 a"] != 40 {
		t.Errorf("with b down: %v", got)
	}
	if b.served.Load() != servedB {
		t.Errorf("b served while down")
	}

	// b is back on the same path: once its back-off ends it gets requests.
	b2 := serveFleetPeer(t, "b", listenUnix(t, pathB))
	deadline := time.Now().Add(10 * time.Second)
	for b2.served.Load() == 0 && time.Now().Before(deadline) {
		if r := serve(t, u, reqEnv("GET", "/app.php", "QUERY_STRING", "slow=1", "REQUEST_URI", "/php/app.php?slow=1"), nil); r.status != 200 {
			t.Fatalf("while b comes back: %d %q", r.status, r.body)
		}
	}
	if b2.served.Load() == 0 {
		t.Errorf("b not used again after it came back")
	}
}

// fakeResolver is the injected Resolver of the DNS tests: what a name
// resolves to is set by the test, and changes between lookups.
type fakeResolver struct {
	mu     sync.Mutex
	hosts  []string
	looked chan struct{} // a lookup happened
}

// set changes the answer and forgets the lookups seen so far.
func (r *fakeResolver) set(hosts ...string) {
	r.mu.Lock()
	r.hosts = hosts
	for len(r.looked) > 0 {
		<-r.looked
	}
	r.mu.Unlock()
}

func (r *fakeResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	r.mu.Lock()
	select {
	case r.looked <- struct{}{}:
	default:
	}
	defer r.mu.Unlock()
	if host != "php.example" {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return append([]string(nil), r.hosts...), nil
}

// TestFleetDNS: "dns:name:port" stands for every address the name resolves
// to — here 127.0.0.1 and 127.0.0.2, two listeners on one port, through an
// injected resolver — and an address the name stops resolving to drains.
func TestFleetDNS(t *testing.T) {
	l1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l1.Addr().(*net.TCPAddr).Port
	l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port))
	if err != nil {
		l1.Close()
		t.Skipf("no second loopback address: %v", err)
	}
	one := serveFleetPeer(t, "one", l1)
	two := serveFleetPeer(t, "two", l2)
	res := &fakeResolver{looked: make(chan struct{}, 64)}
	res.set("127.0.0.1", "127.0.0.2")
	u := newUpstream(t, Config{Upstreams: []string{fmt.Sprintf("dns:php.example:%d", port)}, MaxConns: 1,
		Resolver: res, ResolveInterval: 20 * time.Millisecond, QueueTimeout: 10 * time.Second})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range 10 {
				if r := serve(t, u, reqEnv("GET", "/app.php", "QUERY_STRING", "slow=1", "REQUEST_URI", "/php/app.php?slow=1"), nil); r.status != 200 {
					t.Errorf("%d %q", r.status, r.body)
				}
			}
		})
	}
	wg.Wait()
	if one.served.Load() == 0 || two.served.Load() == 0 {
		t.Errorf("served: one %d, two %d; the name resolves to both", one.served.Load(), two.served.Load())
	}
	// The name now resolves to 127.0.0.1 only: once two lookups went by,
	// 127.0.0.2 gets nothing more.
	res.set("127.0.0.1")
	for range 2 {
		select {
		case <-res.looked:
		case <-time.After(10 * time.Second):
			t.Fatal("no lookup of the name")
		}
	}
	before := two.served.Load()
	for range 10 {
		if r := serve(t, u, reqEnv("GET", "/app.php"), nil); r.status != 200 || r.body != "one" {
			t.Errorf("after the change: %d %q", r.status, r.body)
		}
	}
	if two.served.Load() != before {
		t.Errorf("a drained address still served")
	}
	if s := u.Stats(); s.MaxConns != 1 || s.Health != HealthUp {
		t.Errorf("stats after the drain: %+v", s)
	}
}

var errNotYet = fmt.Errorf("not yet")

// TestFleetHealthCheck: with health checks an address that goes away is
// found down without a request failing on it, and back up without a
// request probing it: FCGI_GET_VALUES, and a path that must answer below
// 500.
func TestFleetHealthCheck(t *testing.T) {
	for _, path := range []string{"", "/app.php"} {
		t.Run("path="+path, func(t *testing.T) {
			dir := t.TempDir()
			pathA, pathB := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
			serveFleetPeer(t, "a", listenUnix(t, pathA))
			b := serveFleetPeer(t, "b", listenUnix(t, pathB))
			u := newUpstream(t, Config{Upstreams: []string{"unix:" + pathA, "unix:" + pathB}, MaxConns: 2,
				HealthInterval: 10 * time.Millisecond, HealthPath: path})
			down := func(addr string) func() error {
				return func() error {
					u.fleet.mu.Lock()
					defer u.fleet.mu.Unlock()
					for _, m := range u.fleet.members {
						if m.addr == addr && time.Now().Before(m.downUntil) {
							return nil
						}
					}
					return errNotYet
				}
			}
			b.stop()
			served := b.served.Load()
			peertest.WaitReady(t, nil, "b found down by the checks", down("unix:"+pathB))
			for range 10 {
				if r := serve(t, u, reqEnv("GET", "/app.php"), nil); r.status != 200 || r.body != "a" {
					t.Errorf("with b down: %d %q", r.status, r.body)
				}
			}
			b2 := serveFleetPeer(t, "b", listenUnix(t, pathB))
			peertest.WaitReady(t, nil, "b found up by the checks", func() error {
				if down("unix:"+pathB)() == nil {
					return errNotYet
				}
				return nil
			})
			if path == "" && (b.served.Load() != served || b2.served.Load() != 0) {
				t.Errorf("FCGI_GET_VALUES ran a request")
			}
			if path != "" && b2.served.Load() == 0 {
				t.Errorf("the path was not requested")
			}
		})
	}
}

// waitWatch counts the queue waits observed.
type waitWatch struct {
	retryWatch
	waits atomic.Int64
}

func (w *waitWatch) QueueWait(time.Duration) { w.waits.Add(1) }

// TestFleetQueueWaitOncePerRequest: a queued request woken again and again
// without a free slot (here by the dns: lookups every 10ms, which find
// nothing) is one queue wait, as in a single pool, not one per wake-up.
func TestFleetQueueWaitOncePerRequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.sock")
	l := listenUnix(t, path)
	started, release := make(chan struct{}, 2), make(chan struct{})
	done := make(chan struct{})
	var n atomic.Int64
	go func() {
		defer close(done)
		_ = fcgi.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			if n.Add(1) == 1 { // the first request holds the only connection
				<-release
			}
			io.WriteString(w, "a")
		}))
	}()
	t.Cleanup(func() { l.Close(); <-done })
	res := &fakeResolver{looked: make(chan struct{}, 64)}
	watch := &waitWatch{}
	u := newUpstream(t, Config{Upstreams: []string{"unix:" + path, "dns:php.example:9000"}, MaxConns: 1,
		Resolver: res, ResolveInterval: 10 * time.Millisecond, QueueTimeout: 10 * time.Second, Observer: watch})
	var wg sync.WaitGroup
	wg.Go(func() {
		if r := serve(t, u, reqEnv("GET", "/app.php"), nil); r.status != 200 {
			t.Errorf("holder: %d %q", r.status, r.body)
		}
	})
	<-started
	wg.Go(func() {
		if r := serve(t, u, reqEnv("GET", "/app.php"), nil); r.status != 200 {
			t.Errorf("queued: %d %q", r.status, r.body)
		}
	})
	// The fleet tells an observer of a queue wait only when it ends.
	if !gwtest.Eventually(10*time.Second, func() bool { return u.Stats().Waiting != 0 }) {
		t.Fatal("the second request never queued")
	}
	res.set()
	for range 5 { // lookups, each waking the queued request
		select {
		case <-res.looked:
		case <-time.After(10 * time.Second):
			t.Fatal("no lookup of the name")
		}
	}
	close(release)
	wg.Wait()
	if n := watch.waits.Load(); n != 2 {
		t.Errorf("queue waits observed: %d, want 2 (one per request)", n)
	}
}

// healthWatch records what an upstream reports about its addresses' health.
type healthWatch struct {
	poolWatch
	mu sync.Mutex
	up map[string]int // address → max_conns, for addresses reported up
}

func (w *healthWatch) QueueWait(time.Duration)  {}
func (w *healthWatch) Rejected(event.Rejection) {}
func (w *healthWatch) Retried()                 {}
func (w *healthWatch) Health(addr string, n int, up bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.up == nil {
		w.up = map[string]int{}
	}
	if up {
		w.up[addr] = n
	} else {
		delete(w.up, addr)
	}
}

var _ Observer = (*healthWatch)(nil)

// TestFleetReportsMemberHealth: an address of a fleet that served a request
// is reported up, with its max_conns, as gatewayd_upstream_up and
// gatewayd_upstream_max_conns show it. Each member pool tells the fleet's
// observer through memberObserver; when the pool found the health half of
// the observer by a type assertion and memberObserver's Rejected took a
// string, the assertion failed and no fleet address was ever reported.
func TestFleetReportsMemberHealth(t *testing.T) {
	dir := t.TempDir()
	pathA, pathB := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
	serveFleetPeer(t, "a", listenUnix(t, pathA))
	serveFleetPeer(t, "b", listenUnix(t, pathB))
	watch := &healthWatch{}
	u := newUpstream(t, Config{Upstreams: []string{"unix:" + pathA, "unix:" + pathB}, MaxConns: 3, Observer: watch})
	r := serve(t, u, reqEnv("GET", "/app.php"), nil)
	if r.status != 200 {
		t.Fatalf("request: %d %q", r.status, r.body)
	}
	served := map[string]string{"a": "unix:" + pathA, "b": "unix:" + pathB}[r.body]
	watch.mu.Lock()
	defer watch.mu.Unlock()
	if n, ok := watch.up[served]; !ok || n != 3 {
		t.Errorf("after %s served: health reported %v, want %s up with max_conns 3", r.body, watch.up, served)
	}
}
