package lazyctx

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// A Context makes its cancellation only when asked for Done, and behaves
// as a context.WithCancel whichever comes first: the Cancel (in FastCGI,
// FCGI_ABORT_REQUEST, a failed connection, the request's end) or the
// Done. Contexts derived from it hang on it without a goroutine each.
func TestCancelAndDoneInEitherOrder(t *testing.T) {
	var early Context
	early.Init(context.Background())
	if early.Err() != nil {
		t.Fatalf("fresh context: %v", early.Err())
	}
	early.Cancel()
	if !errors.Is(early.Err(), context.Canceled) {
		t.Errorf("cancelled before Done: Err %v", early.Err())
	}
	select {
	case <-early.Done():
	default:
		t.Error("cancelled before Done: Done open")
	}

	var late Context
	late.Init(context.Background())
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
	late.Cancel()
	<-fired
	for _, c := range children {
		<-c.Done()
	}
	if !errors.Is(late.Err(), context.Canceled) {
		t.Errorf("Err %v", late.Err())
	}
}

// Until Done is asked for, nothing is allocated; the parent's values,
// deadline and cancellation show through.
func TestParentShowsThrough(t *testing.T) {
	type key struct{}
	deadline := time.Now().Add(time.Hour)
	parent, cancel := context.WithDeadline(context.WithValue(context.Background(), key{}, "v"), deadline)
	var c Context
	c.Init(parent)
	if d, ok := c.Deadline(); !ok || !d.Equal(deadline) || c.Value(key{}) != "v" || c.Err() != nil {
		t.Errorf("deadline %v %v, value %v, err %v", d, ok, c.Value(key{}), c.Err())
	}
	if n := testing.AllocsPerRun(100, func() { _ = c.Err(); _ = c.Value(key{}) }); n != 0 {
		t.Errorf("%v allocations before Done", n)
	}
	cancel()
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("parent cancelled: Err %v", c.Err())
	}
	<-c.Done()
	if c.Value(key{}) != "v" {
		t.Error("value lost once the cancellation was made")
	}
}
