package handler

import (
	"context"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/lazyctx"
)

// requestContext is the context an app's request runs with: its parent's
// deadline and values, the request's Info and environment, and a
// cancellation of its own for when the output breaks, made only when asked
// for (internal/lazyctx). It lives inside the request's one allocation:
// context.WithCancel and two context.WithValue took seven allocations per
// request, and most apps never look at Done.
type requestContext struct {
	lazyctx.Context
	info *Info
	env  environ.Env
}

var _ context.Context = (*requestContext)(nil)

func (c *requestContext) init(parent context.Context, info *Info, env environ.Env) {
	c.Context.Init(parent)
	c.info, c.env = info, env
}

func (c *requestContext) Value(key any) any {
	switch {
	case key == infoKey{}:
		return c.info
	case environ.IsContextKey(key):
		return c.env
	}
	return c.Context.Value(key)
}

// cancel cancels the request's context: the output broke, or the request
// is over.
func (c *requestContext) cancel() { c.Context.Cancel() }
