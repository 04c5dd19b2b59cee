package fastcgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
	"github.com/gatewayd/gatewayd/internal/linger"
)

const (
	// readBufferSize is the connection's read buffer; larger records are
	// read straight into their destination.
	readBufferSize = 16 << 10
	// maxPending bounds the output waiting for the connection's writer;
	// writers of STDOUT and STDERR wait beyond it.
	maxPending = 256 << 10
	// kickAt is how much queued output wakes writeLoop; less waits for
	// the request's end or the app's flush.
	kickAt = 4 << 10
	// keepOutCap is the largest output buffer kept for reuse.
	keepOutCap = 1 << 20
)

var errConnClosed = errors.New("fastcgi: connection closed")

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

var paramBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// conn is one connection from a web server. One goroutine (serve) reads
// records and dispatches them; one (writeLoop) writes what the requests'
// goroutines queued, in as few writes as it can.
type conn struct {
	srv    *Server
	rwc    net.Conn
	log    atomic.Pointer[zap.Logger] // made by logger on first use
	refuse bool                       // over MaxConns: every request is answered FCGI_OVERLOADED

	// Owned by the reading goroutine.
	br       *bufio.Reader
	waiting  []*request // begun, not started yet: their heads are timed
	first    time.Time  // deadline of the connection's first record
	deadline time.Time  // the read deadline in force
	served   int        // requests started (read by connDone after serve)
	scratch  []byte

	wdSet time.Time // when the writer (flushLocked) last set the write deadline

	lingerUntil atomic.Int64 // the lingering close's deadline (unix ns), once it began

	wake chan struct{} // tells writeLoop that output is queued
	done chan struct{} // closed when the connection is torn down

	mu       sync.Mutex
	room     sync.Cond // output has room again, or the connection failed
	reqs     map[uint16]*request
	out      []byte // queued output
	spare    []byte // the buffer written last
	writing  bool   // a goroutine is in flushLocked
	closing  bool   // no more output; close once what is queued is written
	draining bool   // server shutdown: close when no request is left
	werr     error  // the connection's write failed
	handlers sync.WaitGroup
}

func newConn(s *Server, rwc net.Conn, refuse bool) *conn {
	c := &conn{
		srv:    s,
		rwc:    rwc,
		refuse: refuse,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		reqs:   make(map[uint16]*request),
	}
	c.room.L = &c.mu
	c.first = time.Now().Add(s.lim.readTimeout)
	return c
}

// logger is the connection's logger, made when first needed: zap's With
// encodes its fields at once, which cost about a kilobyte and five
// allocations for every connection, and most connections never log.
func (c *conn) logger() *zap.Logger {
	if l := c.log.Load(); l != nil {
		return l
	}
	c.log.CompareAndSwap(nil, c.srv.log.With(zap.Stringer("remote", remoteAddr(c.rwc))))
	return c.log.Load()
}

// protocolError is a fault of the web server that ends the connection.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "fastcgi: " + e.msg }

func (c *conn) serve() {
	c.br = readers.Get().(*bufio.Reader)
	c.br.Reset(c.rwc)
	c.srv.workers.Go(c.writeLoop)
	var err error
	for err == nil {
		err = c.readRecord()
	}
	c.teardown(err)
	c.br.Reset(nil)
	readers.Put(c.br)
	c.srv.connDone(c)
}

// teardown ends the connection after the reader stopped: requests still
// running are cancelled, and serve returns once their handlers have.
func (c *conn) teardown(err error) {
	var pe *protocolError
	var ne net.Error
	switch {
	case c.lingerUntil.Load() != 0:
		// The answers were complete; what ended was the drain after them
		// (the web server closed, or cut a record it no longer needed).
	case errors.As(err, &pe):
		c.logger().Warn("fastcgi: protocol error; closing connection", zap.Error(err))
	case errors.As(err, &ne) && ne.Timeout():
		c.logger().Warn("fastcgi: request head not complete within read_timeout; closing connection",
			zap.Duration("read_timeout", c.srv.lim.readTimeout))
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, errConnClosed):
	default:
		c.logger().Debug("fastcgi: connection read failed", zap.Error(err))
	}
	c.mu.Lock()
	c.closing = true
	if c.werr == nil {
		c.werr = errConnClosed
	}
	reqs := make([]*request, 0, len(c.reqs))
	for _, r := range c.reqs {
		reqs = append(reqs, r)
	}
	c.room.Broadcast()
	c.mu.Unlock()
	for _, r := range reqs {
		r.cancel()
		r.body.fail(io.ErrUnexpectedEOF)
	}
	c.rwc.Close()
	close(c.done)
	c.handlers.Wait()
	for _, r := range c.waiting {
		r.releaseParams()
	}
}

// drain asks the connection to close once no request is left.
func (c *conn) drain() {
	c.mu.Lock()
	c.draining = true
	if len(c.reqs) == 0 {
		c.closing = true
		c.kick()
	}
	c.mu.Unlock()
}

// kick wakes writeLoop. c.mu is held.
func (c *conn) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop writes queued output when kicked: the output of a response
// too large to hold back, management records, a close. A request's own end
// goes out from its goroutine (finish), so that a small response's STDOUT,
// its end of stream and its FCGI_END_REQUEST go out in one write without a
// hand-off to this goroutine; whichever writes takes everything queued, so
// that the responses of concurrent requests share writes.
func (c *conn) writeLoop() {
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		c.mu.Lock()
		c.flushLocked()
		c.mu.Unlock()
	}
}

// flushLocked writes what is queued until nothing is, or returns at once
// when another goroutine is writing: that one writes it too. Once nothing
// is queued and the connection is closing, it closes it. c.mu is held on
// entry and on return, not during a write.
func (c *conn) flushLocked() {
	if c.writing {
		return
	}
	c.writing = true
	defer func() { c.writing = false }()
	for {
		if len(c.out) == 0 || c.werr != nil {
			if c.closing && c.werr == nil {
				c.werr = errConnClosed
				c.room.Broadcast()
				c.mu.Unlock()
				c.linger()
				c.mu.Lock()
			}
			return
		}
		buf := c.out
		c.out, c.spare = c.spare[:0], nil
		c.room.Broadcast()
		c.mu.Unlock()

		// The deadline is moved only when a quarter of it has passed,
		// so that most writes cost no timer update.
		wt := c.srv.lim.writeTimeout
		if now := time.Now(); now.Sub(c.wdSet) > wt/4 {
			c.wdSet = now
			c.rwc.SetWriteDeadline(now.Add(wt))
		}
		_, err := c.rwc.Write(buf)

		c.mu.Lock()
		if cap(buf) <= keepOutCap {
			c.spare = buf[:0]
		}
		if err != nil && c.werr == nil {
			c.werr = err
			c.room.Broadcast()
			c.mu.Unlock()
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				c.logger().Warn("fastcgi: the web server read no output within write_timeout; closing connection",
					zap.Duration("write_timeout", wt))
			} else {
				c.logger().Debug("fastcgi: connection write failed", zap.Error(err))
			}
			c.rwc.Close()
			c.mu.Lock()
			return
		}
	}
}

// linger ends a connection whose answers are all written. The web server
// may still be sending a body the app did not read (nginx without
// fastcgi_keep_conn goes on sending FCGI_STDIN after the response); closing
// now would reset the connection and destroy the answer. So the write side
// is shut, which tells the web server the answers are complete, and the
// reading goroutine goes on discarding records until the web server closes
// or the drain's deadline passes; then it closes the connection.
func (c *conn) linger() {
	deadline, ok := linger.Start(c.rwc, c.srv.lim.readTimeout)
	if !ok {
		c.rwc.Close()
		return
	}
	c.lingerUntil.Store(deadline.UnixNano())
}

// output queues p as records of type t for r.
func (c *conn) output(r *request, t fcgiwire.Type, p []byte) (int, error) {
	n := 0
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(p) > 0 {
		for {
			if c.werr != nil || c.closing {
				return n, errConnClosed
			}
			if r.aborted.Load() {
				return n, context.Canceled
			}
			if len(c.out) < maxPending {
				break
			}
			c.room.Wait()
		}
		k := min(len(p), fcgiwire.MaxChunk)
		c.out = fcgiwire.AppendRecord(c.out, t, r.id, p[:k])
		p = p[k:]
		n += k
		// A small STDOUT write is the core's last (the request's end
		// follows, and finish writes both) or a flush (the stream's Flush
		// writes it); STDERR lines and large output go now.
		if t != fcgiwire.TypeStdout || len(c.out) >= kickAt {
			c.kick()
		}
	}
	return n, nil
}

// reply queues a record from the reading goroutine (management answers,
// refusals). It waits while more than maxPending is queued, up to
// WriteTimeout: a web server that floods requests and reads no answers loses
// its connection.
func (c *conn) reply(fn func([]byte) []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.out) >= maxPending {
		stop := time.AfterFunc(c.srv.lim.writeTimeout, func() {
			c.mu.Lock()
			if c.werr == nil {
				c.werr = &protocolError{"the web server reads no answers"}
			}
			c.room.Broadcast()
			c.mu.Unlock()
		})
		for len(c.out) >= maxPending && c.werr == nil && !c.closing {
			c.room.Wait()
		}
		stop.Stop()
	}
	if c.werr != nil {
		return c.werr
	}
	if c.closing {
		return errConnClosed
	}
	c.out = fn(c.out)
	c.kick()
	return nil
}

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

// mayBlock reports whether reading the next record may wait for the network.
func (c *conn) mayBlock() bool {
	b := c.br.Buffered()
	if b < fcgiwire.HeaderLen {
		return true
	}
	hb, _ := c.br.Peek(fcgiwire.HeaderLen)
	h := fcgiwire.ParseHeader(hb)
	return b < fcgiwire.HeaderLen+int(h.ContentLength)+int(h.PaddingLength)
}

// armDeadline sets the read deadline to the earliest head still expected:
// the first record of a new connection, the parameters of a request, or the
// rest of a record that has begun.
func (c *conn) armDeadline(midRecord bool) {
	var d time.Time
	if !c.first.IsZero() {
		d = c.first
	}
	if midRecord || c.br.Buffered() > 0 {
		if p := time.Now().Add(c.srv.lim.readTimeout); d.IsZero() || p.Before(d) {
			d = p
		}
	}
	if len(c.waiting) > 0 {
		if w := c.waiting[0].deadline; d.IsZero() || w.Before(d) {
			d = w
		}
	}
	if ld := c.lingerDeadline(); !ld.IsZero() && (d.IsZero() || ld.Before(d)) {
		d = ld
	}
	if !d.Equal(c.deadline) {
		c.deadline = d
		c.rwc.SetReadDeadline(d)
		// writeLoop may have started the lingering close meanwhile: its
		// deadline must stay in force.
		if ld := c.lingerDeadline(); !ld.IsZero() && (d.IsZero() || ld.Before(d)) {
			c.deadline = ld
			c.rwc.SetReadDeadline(ld)
		}
	}
}

// lingerDeadline is the end of the lingering close, zero before it.
func (c *conn) lingerDeadline() time.Time {
	if ns := c.lingerUntil.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
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
		c.scratch = make([]byte, fcgiwire.MaxContent)
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
		c.logger().Warn("fastcgi: malformed FCGI_GET_VALUES; answering the names before the fault", zap.Error(err))
	}
	return rerr
}

func (c *conn) refused(id uint16, ps ProtocolStatus) error {
	if o := c.srv.Observer; o != nil {
		o.Refused(ps)
	}
	return c.reply(func(b []byte) []byte { return fcgiwire.AppendEndRequest(b, id, 0, ps) })
}

func (c *conn) begin(id uint16, br fcgiwire.BeginRequest) error {
	if c.refuse {
		if err := c.refused(id, Overloaded); err != nil {
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
		c.logger().Warn("fastcgi: unsupported role; answering FCGI_UNKNOWN_ROLE", zap.Uint16("role", uint16(br.Role)),
			zap.Uint16("id", id))
		return c.refused(id, UnknownRole)
	}
	c.mu.Lock()
	if _, dup := c.reqs[id]; dup {
		c.mu.Unlock()
		return &protocolError{fmt.Sprintf("FCGI_BEGIN_REQUEST for request %d, which is active", id)}
	}
	if len(c.reqs) >= c.srv.lim.maxReqs {
		c.mu.Unlock()
		ps := Overloaded
		if c.srv.lim.maxReqs == 1 {
			ps = CantMpxConn
		}
		c.logger().Warn("fastcgi: over max_reqs on one connection; refusing the request",
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
		c.logger().Warn("fastcgi: FCGI_PARAMS over max_params_bytes; answering 431",
			zap.Int("max_params_bytes", c.srv.lim.maxParams), zap.Uint16("id", id))
		return c.reject(r, 431, "Request Header Fields Too Large")
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

func (c *conn) start(r *request, withBody bool) {
	c.unwait(r)
	r.started = true
	c.served++
	c.handlers.Add(1)
	if withBody {
		c.srv.workers.Go(r.runWithBody)
	} else {
		c.srv.workers.Go(r.runWithoutBody)
	}
}

func (c *conn) stdin(id uint16, n int) error {
	r := c.lookup(id)
	if r == nil || !r.paramsDone {
		if r != nil {
			c.logger().Debug("fastcgi: FCGI_STDIN before the end of FCGI_PARAMS; ignored", zap.Uint16("id", id))
		}
		return c.discard(n)
	}
	if r.waitStdin {
		r.waitStdin = false
		c.start(r, n > 0)
	}
	if n == 0 {
		r.body.end()
		return nil
	}
	if r.role == fcgiwire.RoleAuthorizer || r.stdinDone {
		return c.discard(n)
	}
	take := n
	if r.limit >= 0 && r.received+int64(n) > r.limit {
		take = int(r.limit - r.received)
		c.logger().Warn("fastcgi: FCGI_STDIN longer than CONTENT_LENGTH; the body read fails after it",
			zap.Int64("content_length", r.limit), zap.Uint16("id", id))
	}
	r.received += int64(take)
	if take > 0 {
		if err := c.body(r, take); err != nil {
			return err
		}
	}
	if take < n {
		r.stdinDone = true
		r.body.fail(ErrBodyTooLong)
		return c.discard(n - take)
	}
	return nil
}

// body moves n bytes of r's body from the connection to r's buffer, or to
// its spool file when the buffer is full and other requests must go on.
func (c *conn) body(r *request, n int) error {
	b := &r.body
	for {
		state := b.state(n, c.srv.lim.bodyBuffer)
		switch state {
		case bodyDiscard:
			return c.discard(n)
		case bodyMemory:
			chunk := make([]byte, n)
			if _, err := io.ReadFull(c.br, chunk); err != nil {
				return unexpected(err)
			}
			b.push(chunk)
			return nil
		}
		if c.mayWait(r) {
			// Only this request is on the connection and no other can
			// come: wait for the app, as a plain socket would.
			select {
			case <-b.room:
			case <-c.done:
				return errConnClosed
			}
			// The wait was the app's, not the web server's.
			c.armDeadline(true)
			continue
		}
		chunk, err := c.content(n)
		if err != nil {
			return err
		}
		if err := b.spool(chunk, c.srv); err != nil {
			c.logger().Warn("fastcgi: request body spool failed; the body read fails", zap.Error(err),
				zap.Uint16("id", r.id))
		}
		return nil
	}
}

// mayWait reports whether the reader may wait for r's app to read its body:
// r is the connection's only request, and no other can come on it.
func (c *conn) mayWait(r *request) bool {
	if r.keep && c.srv.lim.maxReqs > 1 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs) == 1
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
	r.body.fail(context.Canceled)
	return nil
}

// badRequest answers r 400 for a fault of the web server's, with a warning
// that a flood of such requests cannot multiply: one line per interval,
// counting the ones held back.
func (c *conn) badRequest(r *request, msg string, fields ...zap.Field) error {
	if ok, n := c.srv.badInput.Allow(time.Now()); ok {
		c.logger().Warn(msg, append(fields, zap.Uint16("id", r.id), zap.Int64("suppressed", n))...)
	}
	return c.reject(r, 400, "Bad Request")
}

// reject answers r with a status of its own, without running the app.
func (c *conn) reject(r *request, status int, text string) error {
	c.unwait(r)
	r.releaseParams()
	c.mu.Lock()
	delete(c.reqs, r.id)
	c.mu.Unlock()
	body := strconv.Itoa(status) + " " + text + "\n"
	resp := "Status: " + strconv.Itoa(status) + " " + text + "\r\nContent-Type: text/plain\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
	return c.reply(func(b []byte) []byte {
		b = fcgiwire.AppendRecord(b, fcgiwire.TypeStdout, r.id, []byte(resp))
		b = fcgiwire.AppendRecord(b, fcgiwire.TypeStdout, r.id, nil)
		return c.endLocked(b, r, 0)
	})
}

// endLocked appends r's FCGI_END_REQUEST and, when r did not ask to keep the
// connection or the server is draining an idle one, marks it for closing.
// c.mu is held.
func (c *conn) endLocked(b []byte, r *request, appStatus uint32) []byte {
	b = fcgiwire.AppendEndRequest(b, r.id, appStatus, RequestComplete)
	if !r.keep || (c.draining && len(c.reqs) == 0) {
		c.closing = true
	}
	return b
}

// spoolFile creates a temporary file for a request body, unlinked at once
// where the system allows it; unlinked reports whether it was.
func spoolFile(dir string) (f *os.File, unlinked bool, err error) {
	f, err = os.CreateTemp(dir, "gatewayd-fastcgi-body-*")
	if err != nil {
		return nil, false, fmt.Errorf("fastcgi: creating a body spool file: %w", err)
	}
	return f, os.Remove(f.Name()) == nil, nil
}
