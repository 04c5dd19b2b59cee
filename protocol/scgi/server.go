package scgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/linger"
	"github.com/gatewayd/gatewayd/internal/lograte"
	"github.com/gatewayd/gatewayd/internal/workers"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("scgi: server closed")

// Defaults for the zero values of Server's fields.
const (
	DefaultMaxHeaderBytes = 64 << 10
	DefaultReadTimeout    = 30 * time.Second
	DefaultWriteTimeout   = 60 * time.Second
	DefaultMaxConns       = 1024
)

// maxRefusing bounds the connections over MaxConns being answered 503 at
// once; beyond it they are closed without an answer.
const maxRefusing = 64

// overloaded is the whole answer to a connection over MaxConns.
const overloaded = "Status: 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n" +
	"Retry-After: 1\r\n\r\nService Unavailable\n"

// readerSize is the buffer of a connection's reader: a typical head and a
// small body arrive in one read.
const readerSize = 4 << 10

// Server serves SCGI requests on listeners it is given. Set the fields
// before the first Serve and do not change them afterwards. A Server must not
// be copied after first use.
type Server struct {
	// Handler runs the app. Required. SCGI answers in gateway form
	// ("Status: 200 OK") whatever its OriginServer says; the Handler is not
	// changed, so that it may serve other front ends too.
	Handler *handler.Handler
	// MaxHeaderBytes bounds the netstring header block; a longer one closes
	// the connection. Zero means DefaultMaxHeaderBytes (64 KiB), the config
	// key listeners[].max_header_bytes.
	MaxHeaderBytes int
	// ReadTimeout is how long the peer may take to send the head, and then
	// how long any one read of the body may wait. Zero means
	// DefaultReadTimeout (30s), the config key listeners[].read_timeout;
	// negative means no limit.
	ReadTimeout time.Duration
	// WriteTimeout is how long one write of the response may wait for the
	// peer to read: a client (behind the web server) that stops reading no
	// longer pins the connection, its goroutine and its buffers; the
	// response is cut short. Zero means DefaultWriteTimeout (60s), the
	// config key listeners[].write_timeout; negative means no limit.
	WriteTimeout time.Duration
	// MaxConns is how many connections are served at once. A connection
	// over it is answered "503 Service Unavailable" (Retry-After: 1) without
	// reading its request, and closed. Zero means DefaultMaxConns (1024),
	// the config key listeners[].max_conns.
	MaxConns int
	// Refused, when set, is called for each connection over MaxConns, for
	// metrics. It must be quick.
	Refused func(net.Conn)
	// Log receives malformed requests and responses cut short (one line per
	// interval for what a peer can repeat at will). Nil means no logging.
	Log *zap.Logger
	// ConnState, when set, is told that a connection was accepted
	// (http.StateNew), that its head was read (http.StateActive) and that it
	// was closed (http.StateClosed), as net/http's hook is, for metrics. It
	// is called from the connection's goroutine and must be quick.
	ConnState func(net.Conn, http.ConnState)

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	refusing  int // connections over MaxConns being answered 503
	badInput  lograte.Limiter
	refused   lograte.Limiter
	closing   atomic.Bool
	workers   workers.Pool // runs connections on goroutines that keep their grown stacks
	active    sync.WaitGroup
	readers   sync.Pool
	ctx       context.Context // cancelled by a Shutdown that runs out of time
	cancel    context.CancelFunc
}

func (s *Server) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[net.Conn]struct{})
		s.ctx, s.cancel = context.WithCancel(context.Background())
	}
}

func (s *Server) log() *zap.Logger {
	if s.Log == nil {
		return zap.NewNop()
	}
	return s.Log
}

// Serve accepts connections on l and serves one request on each, until l
// fails or Shutdown is called; then it returns ErrServerClosed. It closes l.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		return errors.New("scgi: Server.Handler is nil")
	}
	s.init()
	if !s.track(l) {
		l.Close()
		return ErrServerClosed
	}
	defer s.untrack(l)
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				// Out of file descriptors and the like: wait, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log().Warn("scgi: accept failed; retrying", zap.Duration("in", backoff), zap.Error(err))
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("scgi: accepting on %s: %w", l.Addr(), err)
		}
		backoff = 0
		switch s.add(c) {
		case connClosing:
			c.Close()
			return ErrServerClosed
		case connServe:
			s.workers.Go(func() { s.serveConn(c) })
		case connRefuse:
			s.refuseConn(c, true)
			go s.overloaded(c)
		case connDrop:
			s.refuseConn(c, false)
			c.Close()
		}
	}
}

func (s *Server) track(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) untrack(l net.Listener) {
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
	l.Close()
}

// What add decided for a connection.
const (
	connServe   = iota // within MaxConns
	connRefuse         // over it: answer 503
	connDrop           // over it, and too many being answered: close
	connClosing        // Shutdown began
)

// add registers a connection and decides what becomes of it.
func (s *Server) add(c net.Conn) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return connClosing
	}
	if len(s.conns) >= s.maxConns() {
		if s.refusing >= maxRefusing {
			return connDrop
		}
		s.refusing++
		s.active.Add(1)
		return connRefuse
	}
	s.conns[c] = struct{}{}
	s.active.Add(1)
	return connServe
}

// refuseConn counts and logs a connection over MaxConns, one line per
// interval: a peer that opens connections in a loop must not fill the log.
func (s *Server) refuseConn(c net.Conn, answered bool) {
	if s.Refused != nil {
		s.Refused(c)
	}
	if ok, n := s.refused.Allow(time.Now()); ok {
		msg := "scgi: over max_conns; answering 503"
		if !answered {
			msg = "scgi: over max_conns; connection closed"
		}
		s.log().Warn(msg, zap.Int("max_conns", s.maxConns()), zap.String("remote", remote(c)),
			zap.Int64("suppressed", n))
	}
}

// overloaded answers a connection over MaxConns 503 without reading its
// request, and closes it with a lingering close so that the answer is not
// lost to a reset while the web server still sends the request.
func (s *Server) overloaded(c net.Conn) {
	defer func() {
		s.mu.Lock()
		s.refusing--
		s.mu.Unlock()
		s.active.Done()
	}()
	_ = c.SetWriteDeadline(time.Now().Add(linger.Timeout))
	if _, err := io.WriteString(c, overloaded); err != nil {
		_ = c.Close()
		return
	}
	linger.Close(c, c, s.ReadTimeout)
}

func (s *Server) remove(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.active.Done()
}

// Shutdown stops accepting (closing the listeners), then waits for the
// requests in flight to finish. When ctx ends first it cancels their
// contexts, closes their connections and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.closing.Store(true)
	for l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.active.Wait()
		close(done)
	}()
	defer s.workers.Close()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.cancel()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	return ctx.Err()
}

func (s *Server) readTimeout() time.Duration {
	if s.ReadTimeout == 0 {
		return DefaultReadTimeout
	}
	return s.ReadTimeout
}

// writeTimeout is WriteTimeout with its default; negative means no limit.
func (s *Server) writeTimeout() time.Duration {
	if s.WriteTimeout == 0 {
		return DefaultWriteTimeout
	}
	return s.WriteTimeout
}

func (s *Server) maxConns() int {
	if s.MaxConns <= 0 {
		return DefaultMaxConns
	}
	return s.MaxConns
}

func (s *Server) maxHeaderBytes() int {
	if s.MaxHeaderBytes <= 0 {
		return DefaultMaxHeaderBytes
	}
	return min(s.MaxHeaderBytes, 1<<30)
}

func (s *Server) reader(c net.Conn) *bufio.Reader {
	if br, ok := s.readers.Get().(*bufio.Reader); ok {
		br.Reset(c)
		return br
	}
	return bufio.NewReaderSize(c, readerSize)
}

// serveConn serves the one request of a connection and closes it.
func (s *Server) serveConn(c net.Conn) {
	defer s.remove(c)
	if s.ConnState != nil {
		s.ConnState(c, http.StateNew)
		defer s.ConnState(c, http.StateClosed)
	}
	br := s.reader(c)
	defer func() {
		br.Reset(nil)
		s.readers.Put(br)
	}()
	s.serve(s.ctx, c, br)
}

// serve reads the request from br, runs it and closes c.
func (s *Server) serve(ctx context.Context, c net.Conn, br *bufio.Reader) {
	timeout := s.readTimeout()
	if timeout > 0 {
		_ = c.SetReadDeadline(time.Now().Add(timeout))
	}
	env, length, err := readHead(br, s.maxHeaderBytes())
	if err != nil {
		s.refuse(c, err)
		return
	}
	if s.ConnState != nil {
		s.ConnState(c, http.StateActive)
	}
	normalize(env, s.Handler.ServerSoftware)
	// One allocation for what the request needs.
	st := &requestState{
		req:  handler.Request{Env: env, Protocol: "scgi", Form: handler.FormGateway},
		body: bodyReader{r: br, c: c, n: length, timeout: timeout},
	}
	body := &st.body
	if length > 0 {
		st.req.Body = body
	}
	st.out = deadlineWriter{c: c, timeout: s.writeTimeout()}
	res := s.Handler.Serve(ctx, &st.req, &st.out)
	if res.Incomplete() || (res.Err != nil && isTimeout(res.Err)) {
		msg := "scgi: response cut short; resetting the connection"
		if isTimeout(res.Err) {
			msg = "scgi: the peer read nothing within write_timeout; resetting the connection"
		}
		s.log().Warn(msg, zap.String("remote", remote(c)), zap.Int("status", res.Status),
			zap.Int64("bytes_out", res.BytesOut), zap.Error(res.Err))
		reset(c)
		return
	}
	closeClean(c, body, timeout)
}

// refuse logs why a head was refused and closes the connection without an
// answer.
func (s *Server) refuse(c net.Conn, err error) {
	defer c.Close()
	switch {
	case err == io.EOF:
		// Connected and left without a byte: a health check.
		s.log().Debug("scgi: connection closed before a request", zap.String("remote", remote(c)))
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		if ok, n := s.badInput.Allow(time.Now()); ok {
			s.log().Warn("scgi: timed out reading the request head; closing",
				zap.String("remote", remote(c)), zap.Duration("read_timeout", s.readTimeout()),
				zap.Int64("suppressed", n))
		}
		return
	}
	if ok, n := s.badInput.Allow(time.Now()); ok {
		s.log().Warn("scgi: bad request head; closing", zap.String("remote", remote(c)), zap.Error(err),
			zap.Int64("suppressed", n))
	}
}

func remote(c net.Conn) string {
	if a := c.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// reset aborts the connection so that the peer reads an error (RST), not a
// clean end of file. Only TCP can do that; a unix socket is closed.
func reset(c net.Conn) {
	if tc, ok := c.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// closeClean ends a complete response with a lingering close when the app
// left part of the body unread: the peer has the whole response at once and
// the close does not turn into a reset (see internal/linger). The drain ends
// early when the peer closes its side, as nginx does once it has the
// response.
func closeClean(c net.Conn, body *bodyReader, timeout time.Duration) {
	if body.n <= 0 || body.err != nil {
		_ = c.Close()
		return
	}
	// The drain has its own deadline: each read may not extend it.
	body.timeout = 0
	linger.Close(c, body, timeout)
}

type requestState struct {
	req  handler.Request
	body bodyReader
	out  deadlineWriter
}

// deadlineWriter bounds each write of the response by timeout: the peer
// must read within it. The deadline is moved only when a quarter of it has
// passed, so that most writes cost no timer update (as FastCGI's writer).
type deadlineWriter struct {
	c       net.Conn
	timeout time.Duration // negative: no limit
	set     time.Time
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	if w.timeout > 0 {
		if now := time.Now(); now.Sub(w.set) > w.timeout/4 {
			w.set = now
			_ = w.c.SetWriteDeadline(now.Add(w.timeout))
		}
	}
	return w.c.Write(p)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// bodyReader hands the app exactly the n body bytes the head announced.
// Each read may wait at most timeout for the peer.
type bodyReader struct {
	r       *bufio.Reader
	c       net.Conn
	n       int64
	timeout time.Duration
	err     error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	if b.timeout > 0 && b.r.Buffered() == 0 {
		_ = b.c.SetReadDeadline(time.Now().Add(b.timeout))
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	if err == io.EOF && b.n > 0 {
		err = fmt.Errorf("scgi: request body ended %d bytes short: %w", b.n, io.ErrUnexpectedEOF)
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}
