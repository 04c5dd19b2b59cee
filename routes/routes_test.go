package routes

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRetireWaitsForInFlightRequests(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	closed := make(chan struct{})
	a := &Table{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-release
		}),
		closers: []func(context.Context) error{func(context.Context) error { close(closed); return nil }},
	}
	go a.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	<-entered
	retired := make(chan error, 1)
	go func() { retired <- a.Retire(context.Background()) }()
	select {
	case <-closed:
		t.Fatal("closed while a request was still running")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-retired:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Retire did not return once the request ended")
	}
	select {
	case <-closed:
	default:
		t.Error("Retire returned without closing the apps")
	}
}

func TestRetireGivesUpWithItsContext(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	closed := make(chan struct{})
	a := &Table{
		Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }),
		closers: []func(context.Context) error{func(context.Context) error { close(closed); return nil }},
	}
	started := make(chan struct{})
	go func() {
		a.inflight.Add(1) // as ServeHTTP does, before the handler runs
		close(started)
		defer a.inflight.Add(-1)
		a.Handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	a.Retire(ctx)
	select {
	case <-closed:
	default:
		t.Error("Retire did not close the apps when its context ended")
	}
}
