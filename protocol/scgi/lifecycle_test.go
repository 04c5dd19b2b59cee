package scgi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

// shutdown waits for the server's connections to end, so that the logs are
// complete.
func shutdown(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestConnState(t *testing.T) {
	var mu sync.Mutex
	var events []http.ConnState
	addr, s, _ := startServer(t, demo.App{}, func(s *Server) {
		s.ConnState = func(_ net.Conn, st http.ConnState) {
			mu.Lock()
			events = append(events, st)
			mu.Unlock()
		}
	})
	if _, err := roundTrip(t, addr, specRequest); err != nil {
		t.Fatal(err)
	}
	shutdown(t, s)
	mu.Lock()
	defer mu.Unlock()
	want := []http.ConnState{http.StateNew, http.StateActive, http.StateClosed}
	if !slices.Equal(events, want) {
		t.Errorf("events %v, want %v", events, want)
	}
}

func TestShutdownWaitsForInFlight(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	s := &Server{Handler: &handler.Handler{App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	})}}
	l := gwtest.NewClosingListener(gwtest.Listen(t))
	addr := l.Addr().String()
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	answer := make(chan string, 1)
	go func() {
		got, _ := exchange(addr, specRequest)
		answer <- got
	}()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	// New connections are refused once the listener is closed.
	select {
	case <-l.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not close the listener")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("still accepting after Shutdown closed the listener")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(release)
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if got := <-answer; !strings.HasSuffix(got, "\r\n\r\ndone") {
		t.Errorf("in-flight answer %q", got)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
}

func TestShutdownTimeout(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	addr, s, _ := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(cancelled)
	}), nil)
	go exchange(addr, specRequest)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v", err)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the request's context was not cancelled")
	}
}

func TestServeAfterShutdown(t *testing.T) {
	s := &Server{Handler: &handler.Handler{App: demo.App{}}}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listener left open: %v", err)
	}
}

func TestServeNeedsHandler(t *testing.T) {
	if err := (&Server{}).Serve(nil); err == nil {
		t.Error("Serve without a Handler succeeded")
	}
}

// TestDemoEnvironment runs the demo app behind a head as nginx's stock
// scgi_params send it and checks the environment the app saw.
