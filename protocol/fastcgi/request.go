package fastcgi

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// request is one FastCGI request on a connection.
type request struct {
	c       *conn
	id      uint16
	role    fcgiwire.Role
	keep    bool
	ctx     reqContext
	aborted atomic.Bool
	env     environ.Env
	stdin   bodyBuffer // FCGI_STDIN, as the app reads it
	stdout  stream
	stderr  stream

	// Owned by the connection's reading goroutine.
	params     *[]byte
	paramsDone bool
	started    bool
	withBody   bool // the app gets stdin as its body (set before serve runs)
	waitStdin  bool // no CONTENT_LENGTH: start on the first FCGI_STDIN
	stdinDone  bool // the rest of FCGI_STDIN is discarded
	deadline   time.Time
	limit      int64 // CONTENT_LENGTH, or -1
	received   int64
}

func newRequest(c *conn, id uint16, br fcgiwire.BeginRequest) *request {
	r := &request{c: c, id: id, role: br.Role, keep: br.Flags&fcgiwire.FlagKeepConn != 0, limit: -1}
	r.stdout = stream{r: r, t: fcgiwire.TypeStdout}
	r.stderr = stream{r: r, t: fcgiwire.TypeStderr}
	return r
}

func (r *request) releaseParams() {
	if r.params != nil {
		*r.params = (*r.params)[:0]
		if cap(*r.params) <= DefaultMaxParamsBytes {
			paramBufs.Put(r.params)
		}
		r.params = nil
	}
}

// reqContext is the request's context: cancelled by FCGI_ABORT_REQUEST and
// when the connection fails. It lives inside the request, so that it costs
// no allocation of its own, and its cancellation is made only when someone
// asks for Done (the FastCGI upstream does, to close its connection when
// the web server gives up; most apps never do): a context.WithCancel per
// request was two allocations. Once made, the inner context answers Value,
// so that a context derived from this one hangs on it without a goroutine,
// as on any context.WithCancel.
type reqContext struct {
	mu       sync.Mutex
	inner    context.Context // nil until first needed
	stop     context.CancelFunc
	canceled bool
}

var _ context.Context = (*reqContext)(nil)

func (c *reqContext) Deadline() (time.Time, bool) { return time.Time{}, false }

func (c *reqContext) cancellable() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner == nil {
		c.inner, c.stop = context.WithCancel(context.Background())
		if c.canceled {
			c.stop()
		}
	}
	return c.inner
}

func (c *reqContext) Done() <-chan struct{} { return c.cancellable().Done() }

func (c *reqContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.inner != nil:
		return c.inner.Err()
	case c.canceled:
		return context.Canceled
	}
	return nil
}

func (c *reqContext) Value(key any) any {
	c.mu.Lock()
	inner := c.inner
	c.mu.Unlock()
	if inner != nil {
		return inner.Value(key)
	}
	return nil
}

// cancel cancels the request's context.
func (c *reqContext) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.canceled = true
	if c.stop != nil {
		c.stop()
	}
}

func (r *request) cancel() { r.ctx.cancel() }

// serve runs the request through the core handler, on its own goroutine,
// and ends it on the connection.
func (r *request) serve() {
	c := r.c
	defer c.handlers.Done()
	req := handler.Request{Env: r.env, Errors: &r.stderr, Protocol: "fastcgi", Form: handler.FormGateway}
	if r.withBody {
		req.Body = &r.stdin
	}
	res := c.srv.core.Serve(&r.ctx, &req, &r.stdout)
	var appStatus uint32
	if res.Info != nil {
		appStatus = uint32(res.Info.AppStatus)
	}
	r.cancel()
	r.stdin.close()
	c.finish(r, &res, appStatus)
}

// finish ends the request: the end of STDOUT (and STDERR when it was used)
// and FCGI_END_REQUEST, queued together; or, when the response was cut
// short, the connection closed without them so that the web server can tell.
func (c *conn) finish(r *request, res *handler.Result, appStatus uint32) {
	incomplete := false
	c.mu.Lock()
	delete(c.reqs, r.id)
	switch {
	case c.werr != nil || c.closing:
	case r.aborted.Load():
		c.out = c.endLocked(c.out, r, appStatus)
	case res.Incomplete():
		incomplete = true
		c.closing = true
	default:
		c.out = fcgiwire.AppendRecord(c.out, fcgiwire.TypeStdout, r.id, nil)
		if r.stderr.used.Load() {
			c.out = fcgiwire.AppendRecord(c.out, fcgiwire.TypeStderr, r.id, nil)
		}
		c.out = c.endLocked(c.out, r, appStatus)
	}
	c.flushLocked()
	c.mu.Unlock()
	if incomplete {
		c.logger().Warn("fastcgi: response cut short; closing the connection without FCGI_END_REQUEST",
			zap.Uint16("id", r.id), zap.Int("status", res.Status), zap.Error(res.Err))
	}
}

// stream is a request's STDOUT or STDERR.
type stream struct {
	r    *request
	t    fcgiwire.Type
	used atomic.Bool
}

func (s *stream) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.t == fcgiwire.TypeStderr {
		s.used.Store(true)
	}
	return s.r.c.output(s.r, s.t, p)
}

// Flush writes what the request queued now: the app flushed (the core
// calls it after handing over its buffer).
func (s *stream) Flush() error {
	c := s.r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushLocked()
	if c.werr != nil {
		return c.werr
	}
	return nil
}
