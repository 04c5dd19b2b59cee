package fastcgi

import (
	"context"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
	"github.com/gatewayd/gatewayd/internal/lazyctx"
)

// request is one FastCGI request on a connection.
type request struct {
	c       *conn
	id      uint16
	role    fcgiwire.Role
	keep    bool
	ctx     lazyctx.Context // cancelled by FCGI_ABORT_REQUEST and when the connection fails
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
	r.ctx.Init(context.Background())
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

func (r *request) cancel() { r.ctx.Cancel() }

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
