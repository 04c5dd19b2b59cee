package fastcgi

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// Errors an app's body read returns, besides io.ErrUnexpectedEOF (the
// connection closed) and context.Canceled (FCGI_ABORT_REQUEST).
var (
	// ErrBodyTooLong: the web server sent more FCGI_STDIN than
	// CONTENT_LENGTH. The app reads CONTENT_LENGTH bytes, then this error.
	ErrBodyTooLong = errors.New("fastcgi: FCGI_STDIN longer than CONTENT_LENGTH")
	// ErrBodyTooLarge: a body spooled to disk went over MaxSpoolBytes.
	ErrBodyTooLarge = errors.New("fastcgi: request body over max spool bytes")
)

// request is one FastCGI request on a connection.
type request struct {
	c       *conn
	id      uint16
	role    fcgiwire.Role
	keep    bool
	ctx     reqContext
	cancel  context.CancelFunc
	aborted atomic.Bool
	env     environ.Env
	body    body
	stdout  stream
	stderr  stream

	// Owned by the connection's reading goroutine.
	params     *[]byte
	paramsDone bool
	started    bool
	waitStdin  bool // no CONTENT_LENGTH: start on the first FCGI_STDIN
	stdinDone  bool // the rest of FCGI_STDIN is discarded
	deadline   time.Time
	limit      int64 // CONTENT_LENGTH, or -1
	received   int64
}

func newRequest(c *conn, id uint16, br fcgiwire.BeginRequest) *request {
	r := &request{c: c, id: id, role: br.Role, keep: br.Flags&fcgiwire.FlagKeepConn != 0, limit: -1}
	ctx, cancel := context.WithCancel(context.Background())
	r.ctx = reqContext{ctx}
	r.cancel = cancel
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
// no allocation of its own.
type reqContext struct {
	context.Context
}

func (r *request) runWithBody()    { r.run(true) }
func (r *request) runWithoutBody() { r.run(false) }

// run runs the request on its own goroutine.
func (r *request) run(withBody bool) {
	c := r.c
	defer c.handlers.Done()
	req := handler.Request{Env: r.env, Errors: &r.stderr, Protocol: "fastcgi", Form: handler.FormGateway}
	if withBody {
		req.Body = &r.body
	}
	res := c.srv.core.Serve(&r.ctx, &req, &r.stdout)
	var appStatus uint32
	if res.Info != nil {
		appStatus = uint32(res.Info.AppStatus)
	}
	r.cancel()
	r.body.close()
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

type bodyState int

const (
	bodyMemory  bodyState = iota // the bytes go to the memory buffer
	bodyFull                     // the buffer is full
	bodyDiscard                  // the request is over or its body failed
)

// body is a request's FCGI_STDIN as the app reads it. The connection's
// reader pushes records in; the app's goroutine reads them out. Up to the
// server's BodyBuffer bytes wait in memory; past that the reader either
// waits (a connection that carries only this request) or spools to an
// unlinked file, so that it can go on reading other requests' records.
type body struct {
	mu       sync.Mutex
	chunks   [][]byte
	head     int // first chunk not fully read
	off      int // read offset in chunks[head]
	buffered int
	eof      bool
	err      error
	closed   bool
	ready    chan struct{} // wakes a waiting Read
	room     chan struct{} // wakes the connection's reader waiting for room

	file       *os.File
	unlinked   bool
	wpos, rpos int64 // spooled bytes are file[rpos:wpos]
}

func signal(ch chan struct{}) {
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// state says where n more bytes go.
func (b *body) state(n, limit int) bodyState {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed || b.err != nil:
		return bodyDiscard
	case b.wpos > b.rpos:
		// Keep the order: once spooling, the rest follows in the file.
		return bodyFull
	case b.buffered == 0 || b.buffered+n <= limit:
		return bodyMemory
	}
	if b.room == nil {
		b.room = make(chan struct{}, 1)
	}
	return bodyFull
}

func (b *body) push(chunk []byte) {
	b.mu.Lock()
	if !b.closed {
		b.chunks = append(b.chunks, chunk)
		b.buffered += len(chunk)
		signal(b.ready)
	}
	b.mu.Unlock()
}

func (b *body) spool(chunk []byte, s *Server) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.err != nil {
		return nil
	}
	if b.wpos+int64(len(chunk)) > s.lim.maxSpool {
		b.err = ErrBodyTooLarge
		signal(b.ready)
		return ErrBodyTooLarge
	}
	if b.file == nil {
		f, unlinked, err := spoolFile(s.SpoolDir)
		if err != nil {
			b.err = err
			signal(b.ready)
			return err
		}
		b.file, b.unlinked = f, unlinked
	}
	if _, err := b.file.WriteAt(chunk, b.wpos); err != nil {
		b.err = err
		signal(b.ready)
		return err
	}
	b.wpos += int64(len(chunk))
	signal(b.ready)
	return nil
}

// end marks the end of the stream.
func (b *body) end() {
	b.mu.Lock()
	b.eof = true
	signal(b.ready)
	b.mu.Unlock()
}

// fail makes reads fail with err once the bytes before it are read.
func (b *body) fail(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	signal(b.ready)
	signal(b.room)
	b.mu.Unlock()
}

// close drops what is left, when the request is over.
func (b *body) close() {
	b.mu.Lock()
	b.closed = true
	b.chunks, b.head, b.off, b.buffered = nil, 0, 0, 0
	if b.file != nil {
		b.file.Close()
		if !b.unlinked {
			os.Remove(b.file.Name())
		}
		b.file = nil
		b.wpos, b.rpos = 0, 0
	}
	signal(b.room)
	b.mu.Unlock()
}

func (b *body) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.closed {
			return 0, io.ErrClosedPipe
		}
		if b.buffered > 0 {
			n := 0
			for n < len(p) && b.buffered > 0 {
				c := b.chunks[b.head][b.off:]
				k := copy(p[n:], c)
				n += k
				b.off += k
				b.buffered -= k
				if k == len(c) {
					b.chunks[b.head] = nil
					b.head++
					b.off = 0
				}
			}
			if b.buffered == 0 {
				b.chunks, b.head = b.chunks[:0], 0
			}
			signal(b.room)
			return n, nil
		}
		if b.wpos > b.rpos {
			k := int(min(int64(len(p)), b.wpos-b.rpos))
			n, err := b.file.ReadAt(p[:k], b.rpos)
			b.rpos += int64(n)
			if b.rpos == b.wpos {
				// All read: the memory buffer takes over again and the
				// file is reused from its start.
				b.rpos, b.wpos = 0, 0
			}
			signal(b.room)
			if n == 0 && err != nil {
				return 0, err
			}
			return n, nil
		}
		if b.err != nil {
			return 0, b.err
		}
		if b.eof {
			return 0, io.EOF
		}
		if b.ready == nil {
			b.ready = make(chan struct{}, 1)
		}
		ready := b.ready
		b.mu.Unlock()
		<-ready
		b.mu.Lock()
	}
}
