package fastcgi

import (
	"context"
	"errors"
	"maps"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/gatewayd/gatewayd/core/event"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// startLifecycle serves a test app with the test's logger on a loopback
// port; Serve's error arrives on the channel it returns.
func startLifecycle(t *testing.T) (*testApp, *Server, net.Listener, <-chan error) {
	t.Helper()
	app := newTestApp()
	s := newServer(app)
	s.Log = zaptest.NewLogger(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Initialised here, not only in Serve's goroutine: the tests look at
	// the server's state (its connections) before Serve may have run.
	s.init()
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(l) }()
	return app, s, l, errc
}

func TestShutdown(t *testing.T) {
	app, s, l, errc := startLifecycle(t)
	busy := dialTest(t, l.Addr().String())
	idle := dialTest(t, l.Addr().String())
	idle.get(1, "/hello")
	busy.write(encodeRequest(1, roleResponder, flagKeepConn, getParams("/wait"), nil, false))
	<-app.entered
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	idle.waitClosed(5 * time.Second)
	if _, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
	select {
	case <-done:
		t.Fatal("Shutdown returned with a request in flight")
	default:
	}
	close(app.release)
	if r := busy.wait(1, 5*time.Second); r.body() != "waited" {
		t.Errorf("in-flight request: %q", r.stdout.String())
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	busy.waitClosed(5 * time.Second)
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

func TestShutdownTimeout(t *testing.T) {
	app, s, l, _ := startLifecycle(t)
	c := dialTest(t, l.Addr().String())
	c.write(encodeRequest(1, roleResponder, flagKeepConn, getParams("/wait"), nil, false))
	<-app.entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-app.ctxErr; !errors.Is(err, context.Canceled) {
		t.Errorf("request context after forced close: %v", err)
	}
	c.waitClosed(5 * time.Second)
}

// countObserver counts Observer calls, and tells waitConns of each.
type countObserver struct {
	mu      sync.Mutex
	n       map[string]int
	changed chan struct{}
}

func (o *countObserver) add(k string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	o.n[k]++
	select {
	case o.signal() <- struct{}{}:
	default:
	}
}

// signal is the channel that add wakes. o.mu is held.
func (o *countObserver) signal() chan struct{} {
	if o.changed == nil {
		o.changed = make(chan struct{}, 1)
	}
	return o.changed
}

// wake is told when a call came after it was taken.
func (o *countObserver) wake() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.signal()
}
func (o *countObserver) ConnOpened()             { o.add("opened") }
func (o *countObserver) ConnClosed(n int)        { o.add("closed"); o.add("requests-" + itoa(n)) }
func (o *countObserver) Refused(r event.Refusal) { o.add("refused-" + string(r)) }
func (o *countObserver) Aborted()                { o.add("aborted") }
func (o *countObserver) ConnRefused()            { o.add("conn_refused") }
func (o *countObserver) count(k string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[k]
}
func (o *countObserver) snapshot() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.n)
}

var _ Observer = (*countObserver)(nil)

// TestShutdownServesANewConnectionsFirstRequest: a connection accepted
// before Shutdown whose first record had not arrived yet is not idle — the
// web server connected for a request. It is served, then closed. Before,
// Shutdown closed it at once, and nginx logged "upstream prematurely
// closed connection while reading response header" (cmd/gatewayd
// TestSIGTERMUnderLoadThroughNginx).
func TestShutdownServesANewConnectionsFirstRequest(t *testing.T) {
	_, s, l, errc := startLifecycle(t)
	fresh := dialTest(t, l.Addr().String())
	connCount := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns)
	}
	peertest.WaitReady(t, nil, "the connection accepted", func() error {
		if connCount() != 1 {
			return errors.New("not yet")
		}
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	// Shutdown has told every connection to drain; the request comes after.
	peertest.WaitReady(t, nil, "the connection draining", func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		for c := range s.conns {
			c.mu.Lock()
			d := c.draining
			c.mu.Unlock()
			if !d {
				return errors.New("not yet")
			}
		}
		return nil
	})
	fresh.write(encodeRequest(1, roleResponder, flagKeepConn, getParams("/hello"), nil, false))
	if r := fresh.wait(1, 5*time.Second); r.body() != "Hello" {
		t.Errorf("first request on a connection open at Shutdown: %q", r.stdout.String())
	}
	fresh.waitClosed(5 * time.Second)
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}
