// Package lazyctx is a request's cancellable context that costs no
// allocation until someone asks for its Done channel.
//
// context.WithCancel per request is two allocations, and most handlers
// never look at Done. A Context lives inside the request that owns it; the
// first Done (or a context derived from this one, which asks for Done)
// makes a context.WithCancel of the parent, which from then on carries the
// cancellation and answers Value, so that derived contexts hang on it
// without a goroutine, as on any context.WithCancel.
package lazyctx

import (
	"context"
	"sync"
	"time"
)

// Context is a context.Context whose cancellation is made on demand. The
// zero value is not ready: call Init first. It must not be copied after
// Init.
type Context struct {
	parent context.Context

	mu       sync.Mutex
	inner    context.Context // nil until first needed
	stop     context.CancelFunc
	canceled bool
}

var _ context.Context = (*Context)(nil)

// Init sets the parent, whose deadline, values and cancellation c carries.
func (c *Context) Init(parent context.Context) { c.parent = parent }

// Deadline is the parent's.
func (c *Context) Deadline() (time.Time, bool) { return c.parent.Deadline() }

// cancellable returns the context that carries the cancellation, making it
// on first use.
func (c *Context) cancellable() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner == nil {
		c.inner, c.stop = context.WithCancel(c.parent)
		if c.canceled {
			c.stop()
		}
	}
	return c.inner
}

// Done makes the cancellation if it was not made yet.
func (c *Context) Done() <-chan struct{} { return c.cancellable().Done() }

// Err is context.Canceled once Cancel ran, else the parent's error.
func (c *Context) Err() error {
	c.mu.Lock()
	inner, canceled := c.inner, c.canceled
	c.mu.Unlock()
	switch {
	case inner != nil:
		return inner.Err()
	case canceled:
		return context.Canceled
	}
	return c.parent.Err()
}

// Value answers from the inner context once it exists (context's own
// lookup of the cancellation to hang a derived context on must find it),
// else from the parent.
func (c *Context) Value(key any) any {
	c.mu.Lock()
	inner := c.inner
	c.mu.Unlock()
	if inner != nil {
		return inner.Value(key)
	}
	return c.parent.Value(key)
}

// Cancel cancels c and every context derived from it.
func (c *Context) Cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.canceled = true
	if c.stop != nil {
		c.stop()
	}
}
