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
	"github.com/gatewayd/gatewayd/internal/workers"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("scgi: server closed")

// Defaults for the zero values of Server's fields.
const (
	DefaultMaxHeaderBytes = 64 << 10
	DefaultReadTimeout    = 30 * time.Second
)

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
	// Log receives one line per malformed request and per response cut
	// short. Nil means no logging.
	Log *zap.Logger
	// ConnState, when set, is told that a connection was accepted
	// (http.StateNew), that its head was read (http.StateActive) and that it
	// was closed (http.StateClosed), as net/http's hook is, for metrics. It
	// is called from the connection's goroutine and must be quick.
	ConnState func(net.Conn, http.ConnState)

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
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
		if !s.add(c) {
			c.Close()
			return ErrServerClosed
		}
		s.workers.Go(func() { s.serveConn(c) })
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

// add registers a connection; false once Shutdown began.
func (s *Server) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	s.active.Add(1)
	return true
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
	res := s.Handler.Serve(ctx, &st.req, c)
	if res.Incomplete() {
		s.log().Warn("scgi: response cut short; resetting the connection",
			zap.String("remote", remote(c)), zap.Int("status", res.Status),
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
		s.log().Warn("scgi: timed out reading the request head; closing",
			zap.String("remote", remote(c)), zap.Duration("read_timeout", s.readTimeout()))
		return
	}
	s.log().Warn("scgi: bad request head; closing", zap.String("remote", remote(c)), zap.Error(err))
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
