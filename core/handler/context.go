package handler

import (
	"context"
	"sync"
	"time"

	"github.com/gatewayd/gatewayd/core/environ"
)

// requestContext is the context an app's request runs with: its parent's
// deadline and values, the request's Info and environment, and a
// cancellation of its own for when the output breaks. It lives inside the
// request's one allocation: context.WithCancel and two context.WithValue
// took seven allocations per request, and most apps never look at Done.
//
// The cancellation is made on demand: the first Done (or a context
// derived from this one, which asks for Done) makes a context.WithCancel of
// the parent, which then carries the cancellation and whose Value answers
// for it, so that derived contexts hang on it without a goroutine.
type requestContext struct {
	parent context.Context
	info   *Info
	env    environ.Env

	mu       sync.Mutex
	inner    context.Context // nil until first needed
	stop     context.CancelFunc
	canceled bool
}

var _ context.Context = (*requestContext)(nil)

func (c *requestContext) init(parent context.Context, info *Info, env environ.Env) {
	c.parent, c.info, c.env = parent, info, env
}

func (c *requestContext) Deadline() (time.Time, bool) { return c.parent.Deadline() }

// cancellable returns the context that carries the cancellation, making it
// on first use.
func (c *requestContext) cancellable() context.Context {
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

func (c *requestContext) Done() <-chan struct{} { return c.cancellable().Done() }

func (c *requestContext) Err() error {
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

func (c *requestContext) Value(key any) any {
	switch {
	case key == infoKey{}:
		return c.info
	case environ.IsContextKey(key):
		return c.env
	}
	c.mu.Lock()
	inner := c.inner
	c.mu.Unlock()
	if inner != nil {
		// Context's own lookups (of the cancellation to hang a derived
		// context on) must find the inner one.
		return inner.Value(key)
	}
	return c.parent.Value(key)
}

// cancel cancels the request's context: the output broke, or the request
// is over.
func (c *requestContext) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.canceled = true
	if c.stop != nil {
		c.stop()
	}
}
