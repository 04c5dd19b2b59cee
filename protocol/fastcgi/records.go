package fastcgi

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

var paramBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// readRecord reads and handles one record.
func (c *conn) readRecord() error {
	if c.br.Buffered() == 0 {
		// Between records: only the deadlines of heads still expected (the
		// first record, a request's parameters) bound the wait; an idle
		// kept connection waits for the web server's next request.
		c.armDeadline(false)
		if _, err := c.br.Peek(1); err != nil {
			return err
		}
	}
	if c.br.Buffered() < fcgiwire.HeaderLen {
		// A record has begun: the rest of its header is bounded by
		// ReadTimeout like the rest of any record.
		c.armDeadline(true)
	} else if c.mayBlock() {
		c.armDeadline(false)
	}
	hb, err := c.br.Peek(fcgiwire.HeaderLen)
	if err != nil {
		if err == io.EOF && c.br.Buffered() > 0 {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	h := fcgiwire.ParseHeader(hb)
	c.br.Discard(fcgiwire.HeaderLen)
	if h.Version != fcgiwire.Version1 {
		return &protocolError{fmt.Sprintf("record version %d, want 1", h.Version)}
	}
	n := int(h.ContentLength)
	if c.br.Buffered() < n+int(h.PaddingLength) {
		// The rest of the record has yet to come.
		c.armDeadline(true)
	}
	if err := c.handle(h, n); err != nil {
		return err
	}
	_, err = c.br.Discard(int(h.PaddingLength))
	return err
}

// content reads n content bytes into a scratch buffer valid until the next
// call.
func (c *conn) content(n int) ([]byte, error) {
	if n <= readBufferSize {
		b, err := c.br.Peek(n)
		if err != nil {
			return nil, unexpected(err)
		}
		c.br.Discard(n)
		return b, nil
	}
	if cap(c.scratch) < n {
		// As large as the largest record met, not the largest possible:
		// the connection keeps it.
		c.scratch = make([]byte, n)
	}
	b := c.scratch[:n]
	if _, err := io.ReadFull(c.br, b); err != nil {
		return nil, unexpected(err)
	}
	return b, nil
}

func (c *conn) discard(n int) error {
	_, err := c.br.Discard(n)
	return unexpected(err)
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (c *conn) lookup(id uint16) *request {
	c.mu.Lock()
	r := c.reqs[id]
	c.mu.Unlock()
	return r
}

func (c *conn) handle(h fcgiwire.Header, n int) error {
	if !c.refuse {
		c.first = time.Time{}
	}
	if h.ID == 0 {
		if h.Type == fcgiwire.TypeGetValues {
			b, err := c.content(n)
			if err != nil {
				return err
			}
			return c.getValues(b)
		}
		if err := c.discard(n); err != nil {
			return err
		}
		c.logger().Debug("fastcgi: unknown management record", zap.Stringer("type", h.Type))
		t := h.Type
		return c.reply(func(b []byte) []byte { return fcgiwire.AppendUnknownType(b, t) })
	}
	switch h.Type {
	case fcgiwire.TypeBeginRequest:
		b, err := c.content(n)
		if err != nil {
			return err
		}
		br, err := fcgiwire.ParseBeginRequest(b)
		if err != nil {
			return &protocolError{"short FCGI_BEGIN_REQUEST body"}
		}
		return c.begin(h.ID, br)
	case fcgiwire.TypeParams:
		return c.params(h.ID, n)
	case fcgiwire.TypeStdin:
		return c.stdin(h.ID, n)
	case fcgiwire.TypeAbortRequest:
		if err := c.discard(n); err != nil {
			return err
		}
		return c.abort(h.ID)
	default:
		// DATA (Filter role only) and types a web server does not send.
		if c.lookup(h.ID) != nil && h.Type != fcgiwire.TypeData {
			c.logger().Debug("fastcgi: ignored record", zap.Stringer("type", h.Type), zap.Uint16("id", h.ID))
		}
		return c.discard(n)
	}
}

func (c *conn) getValues(b []byte) error {
	var err error
	rerr := c.reply(func(out []byte) []byte {
		out, err = fcgiwire.AppendGetValuesResult(out, b, c.srv.getValue)
		return out
	})
	if err != nil {
		c.peerFault("fastcgi: malformed FCGI_GET_VALUES; answering the names before the fault", zap.Error(err))
	}
	return rerr
}

func (c *conn) refused(id uint16, ps fcgiwire.ProtocolStatus) error {
	if o := c.srv.Observer; o != nil {
		o.Refused(refusal(ps))
	}
	return c.reply(func(b []byte) []byte {
		b = fcgiwire.AppendEndRequest(b, id, 0, ps)
		c.closeIdleLocked()
		return b
	})
}

func (c *conn) begin(id uint16, br fcgiwire.BeginRequest) error {
	c.mu.Lock()
	c.begun = true
	c.mu.Unlock()
	if c.refuse {
		if err := c.refused(id, fcgiwire.Overloaded); err != nil {
			return err
		}
		// One answer is enough: close once it is written.
		c.mu.Lock()
		c.closing = true
		c.kick()
		c.mu.Unlock()
		return nil
	}
	if br.Role != fcgiwire.RoleResponder && br.Role != fcgiwire.RoleAuthorizer {
		c.peerFault("fastcgi: unsupported role; answering FCGI_UNKNOWN_ROLE", zap.Uint16("role", uint16(br.Role)),
			zap.Uint16("id", id))
		return c.refused(id, fcgiwire.UnknownRole)
	}
	c.mu.Lock()
	if _, dup := c.reqs[id]; dup {
		c.mu.Unlock()
		return &protocolError{fmt.Sprintf("FCGI_BEGIN_REQUEST for request %d, which is active", id)}
	}
	if len(c.reqs) >= c.srv.lim.maxReqs {
		c.mu.Unlock()
		ps := fcgiwire.Overloaded
		if c.srv.lim.maxReqs == 1 {
			ps = fcgiwire.CantMpxConn
		}
		c.peerFault("fastcgi: over max_reqs on one connection; refusing the request",
			zap.Int("max_reqs", c.srv.lim.maxReqs), zap.Stringer("answer", ps), zap.Uint16("id", id))
		return c.refused(id, ps)
	}
	r := newRequest(c, id, br)
	c.reqs[id] = r
	c.mu.Unlock()
	r.deadline = time.Now().Add(c.srv.lim.readTimeout)
	c.waiting = append(c.waiting, r)
	return nil
}

// unwait takes r off the list of timed heads.
func (c *conn) unwait(r *request) {
	for i, w := range c.waiting {
		if w == r {
			copy(c.waiting[i:], c.waiting[i+1:])
			c.waiting[len(c.waiting)-1] = nil
			c.waiting = c.waiting[:len(c.waiting)-1]
			return
		}
	}
}

func (c *conn) params(id uint16, n int) error {
	r := c.lookup(id)
	if r == nil || r.paramsDone {
		return c.discard(n)
	}
	if n == 0 {
		r.paramsDone = true
		return c.paramsEnd(r)
	}
	if r.params == nil {
		r.params = paramBufs.Get().(*[]byte)
	}
	p := *r.params
	if len(p)+n > c.srv.lim.maxParams {
		if err := c.discard(n); err != nil {
			return err
		}
		c.peerFault("fastcgi: FCGI_PARAMS over max_params_bytes; answering 431",
			zap.Int("max_params_bytes", c.srv.lim.maxParams), zap.Uint16("id", id))
		return c.reject(r, 431)
	}
	if cap(p)-len(p) < n {
		p = append(p[:cap(p)], make([]byte, len(p)+n-cap(p))...)[:len(p)]
	}
	if _, err := io.ReadFull(c.br, p[len(p):len(p)+n]); err != nil {
		return unexpected(err)
	}
	*r.params = p[:len(p)+n]
	return nil
}

func (c *conn) paramsEnd(r *request) error {
	var s string
	if r.params != nil {
		s = string(*r.params)
		r.releaseParams()
	}
	// Sized for what the web server sent and the few variables normalize
	// adds: a map sized by a guess took twice the memory for nginx's
	// usual 20-odd parameters.
	lim := fcgiwire.Limits{MaxBytes: -1, MaxPairs: -1}
	pairs := 0
	_ = fcgiwire.DecodePairs(s, lim, func(string, string) { pairs++ })
	env := make(environ.Env, pairs+4)
	if err := fcgiwire.DecodePairs(s, lim, func(name, value string) { env[name] = value }); err != nil {
		return c.badRequest(r, "fastcgi: malformed FCGI_PARAMS; answering 400", zap.Error(err))
	}
	normalize(env, r.role, c.srv.LiteralPaths, c.srv.core.ServerSoftware)
	// The web server's faults are answered 400 here, before an app or a
	// body buffer is spent on them; the core would answer them 500, as if
	// gatewayd had failed.
	if env["REQUEST_METHOD"] == "" {
		return c.badRequest(r, "fastcgi: request without REQUEST_METHOD; answering 400")
	}
	cl, hasLength := env["CONTENT_LENGTH"]
	n, ok := environ.ParseContentLength(cl)
	if hasLength && !ok {
		return c.badRequest(r, "fastcgi: malformed CONTENT_LENGTH; answering 400", zap.String("content_length", cl))
	}
	r.env = env
	if r.role == fcgiwire.RoleAuthorizer {
		c.start(r, false)
		return nil
	}
	if hasLength {
		r.limit = n
		c.start(r, n != 0)
		return nil
	}
	// No CONTENT_LENGTH: whether there is a body (nginx streaming a chunked
	// one) shows with the first FCGI_STDIN record.
	r.waitStdin = true
	return nil
}

// start runs r: request.serve (request.go) hands its environment to the
// core, on a pooled goroutine that keeps its grown stack (internal/workers).
func (c *conn) start(r *request, withBody bool) {
	c.unwait(r)
	r.started = true
	r.withBody = withBody
	c.served++
	c.handlers.Add(1)
	c.srv.workers.Go(r.serve)
}

func (c *conn) abort(id uint16) error {
	r := c.lookup(id)
	if r == nil {
		return nil
	}
	if o := c.srv.Observer; o != nil {
		o.Aborted()
	}
	if !r.started {
		c.unwait(r)
		r.releaseParams()
		c.mu.Lock()
		delete(c.reqs, id)
		c.mu.Unlock()
		return c.reply(func(b []byte) []byte { return c.endLocked(b, r, 0) })
	}
	r.aborted.Store(true)
	r.cancel()
	r.stdin.fail(context.Canceled)
	return nil
}

// badRequest answers r 400 for a fault of the web server's, with a warning
// that a flood of such requests cannot multiply: one line per interval,
// counting the ones held back.
func (c *conn) badRequest(r *request, msg string, fields ...zap.Field) error {
	c.peerFault(msg, append(fields, zap.Uint16("id", r.id))...)
	return c.reject(r, 400)
}

// peerFault logs a fault of the web server's (or of anyone who can reach
// the socket) at warn. A peer can commit one in every record it sends, so
// all of them share one limiter: one line per interval, with a count of
// the lines held back since the last.
func (c *conn) peerFault(msg string, fields ...zap.Field) {
	if ok, n := c.srv.badInput.Allow(time.Now()); ok {
		c.logger().Warn(msg, append(fields, zap.Int64("suppressed", n))...)
	}
}

// reject answers r with the core's error page for status, without running
// the app.
func (c *conn) reject(r *request, status int) error {
	c.unwait(r)
	r.releaseParams()
	c.mu.Lock()
	delete(c.reqs, r.id)
	c.mu.Unlock()
	body := handler.ErrorText(status) // "400 Bad Request\n"
	resp := "Status: " + body[:len(body)-1] + "\r\nContent-Type: text/plain\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
	return c.reply(func(b []byte) []byte {
		b = fcgiwire.AppendRecord(b, fcgiwire.TypeStdout, r.id, []byte(resp))
		b = fcgiwire.AppendRecord(b, fcgiwire.TypeStdout, r.id, nil)
		return c.endLocked(b, r, 0)
	})
}
