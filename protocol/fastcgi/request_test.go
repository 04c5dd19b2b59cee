package fastcgi

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

// The request's context makes its cancellation only when asked for Done,
// and behaves as a context.WithCancel whichever comes first: the cancel
// (FCGI_ABORT_REQUEST, a failed connection, the request's end) or the
// Done. Contexts derived from it hang on it without a goroutine each.
func TestReqContext(t *testing.T) {
	var early reqContext
	if early.Err() != nil {
		t.Fatalf("fresh context: %v", early.Err())
	}
	early.cancel()
	if !errors.Is(early.Err(), context.Canceled) {
		t.Errorf("cancelled before Done: Err %v", early.Err())
	}
	select {
	case <-early.Done():
	default:
		t.Error("cancelled before Done: Done open")
	}

	var late reqContext
	done := late.Done()
	fired := make(chan struct{})
	context.AfterFunc(&late, func() { close(fired) })
	before := runtime.NumGoroutine()
	var children []context.Context
	for range 100 {
		child, cancel := context.WithCancel(&late)
		defer cancel()
		children = append(children, child)
	}
	if n := runtime.NumGoroutine() - before; n > 10 {
		t.Errorf("100 derived contexts started %d goroutines", n)
	}
	select {
	case <-done:
		t.Fatal("Done closed before the cancel")
	default:
	}
	late.cancel()
	<-fired
	for _, c := range children {
		<-c.Done()
	}
	if !errors.Is(late.Err(), context.Canceled) {
		t.Errorf("Err %v", late.Err())
	}
}
