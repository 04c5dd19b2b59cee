package httpfront

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/setting"
	"github.com/gatewayd/gatewayd/protocol/internal/overload"
	"github.com/gatewayd/gatewayd/protocol/internal/writedeadline"
)

// Defaults for the zero values of Server's fields.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultWriteTimeout      = 60 * time.Second
)

// Server serves HTTP/1.x on listeners through a core handler.
type Server struct {
	// Handler runs the app. Required. Responses are in origin-server form
	// (Server header) whatever its OriginServer says; the Handler is not
	// changed, so that it may serve other front ends too.
	Handler *handler.Handler
	// ReadHeaderTimeout bounds reading a request's head. Zero means 10s;
	// negative makes Serve fail.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle that long. Zero means
	// 120s; negative turns keep-alive off (every response closes its
	// connection).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's head, exactly: a longer one is
	// answered 431 and the connection closed. Zero means 64 KiB; negative
	// makes Serve fail.
	MaxHeaderBytes int
	// WriteTimeout is how long one write of a response may wait for the
	// client to read: a client that stops reading no longer pins the
	// connection, its goroutine and its buffers; the response is cut short.
	// It bounds progress, not the whole response: a long download that
	// keeps moving, or an app that takes long to answer, is not cut. Zero
	// means DefaultWriteTimeout (60s); negative means no limit.
	WriteTimeout time.Duration
	// MaxConns is how many connections are served at once. When one more
	// arrives, the connection idle longest (kept alive between requests,
	// or silent since it opened) is closed to make room (as nginx does
	// when worker_connections run out);
	// with none idle, the new one is answered "503 Service Unavailable"
	// (Retry-After: 1) as soon as its request begins, and closed (beyond
	// 64 such answers at once, closed without one). Zero means
	// DefaultMaxConns (1024), the config key listeners[].max_conns;
	// negative makes Serve fail.
	MaxConns int
	// Refused, when set, is called for each connection over MaxConns that
	// is answered 503 or closed, for metrics. It must be quick.
	Refused func(net.Conn)
	// PassAuthorization passes Authorization as HTTP_AUTHORIZATION. Default false.
	PassAuthorization bool
	// ServerSoftware is SERVER_SOFTWARE. Empty means "gatewayd".
	ServerSoftware string
	// Log receives server errors. Nil means none.
	Log *zap.Logger
	// ConnState, when set, is told of connection state changes (metrics).
	ConnState func(net.Conn, http.ConnState)

	once    sync.Once
	srv     *http.Server
	lg      *zap.Logger
	limErr  error     // a negative limit that cannot be off: Serve refuses to start
	exchs   sync.Pool // *exchange
	refused overload.Log

	// A graceful stop in two steps (see Shutdown): the listeners Serve was
	// given, the connections open now, and a signal when the last closes.
	// The open connections are also what MaxConns bounds (limit.go).
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	live      map[*watchConn]struct{} // admitted and not yet closed
	refusing  int                     // connections over MaxConns being answered 503
	drained   chan struct{}           // closed when live empties while stopping
	stopping  bool
	serving   sync.WaitGroup // the accept loops
}

// exchange is what one request needs besides the core's state; pooled,
// since nothing keeps it once ServeHTTP returns.
type exchange struct {
	req  handler.Request
	sink sink
	pace writedeadline.Pacer // the request's write deadline
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = http.ErrServerClosed

func (s *Server) server() *http.Server {
	s.once.Do(s.init)
	return s.srv
}

func (s *Server) init() {
	log := s.Log
	if log == nil {
		log = zap.NewNop()
	}
	s.lg = log
	s.live = make(map[*watchConn]struct{})
	// internal/setting's rule: zero is the default; IdleTimeout and
	// WriteTimeout can be off, the others cannot.
	if err := setting.Negative(setting.N("ReadHeaderTimeout", s.ReadHeaderTimeout),
		setting.N("MaxHeaderBytes", s.MaxHeaderBytes), setting.N("MaxConns", s.MaxConns)); err != nil {
		s.limErr = fmt.Errorf("httpfront: %w", err)
	}
	idle := setting.Or(s.IdleTimeout, DefaultIdleTimeout)
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: setting.Or(s.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		IdleTimeout:       max(idle, 0),
		// net/http refuses heads over this plus 4096 bytes; check makes
		// the limit exact.
		MaxHeaderBytes: s.maxHeaderBytes(),
		ErrorLog:       zap.NewStdLog(log.Named("http")),
		ConnState:      s.connState,
		ConnContext:    withConn,
	}
	if idle < 0 {
		// Off: no keep-alive, as nginx's keepalive_timeout 0.
		s.srv.SetKeepAlivesEnabled(false)
	}
}

func (s *Server) log() *zap.Logger { return s.lg }

func (s *Server) maxHeaderBytes() int { return setting.Or(s.MaxHeaderBytes, DefaultMaxHeaderBytes) }

func (s *Server) writeTimeout() time.Duration { return setting.Or(s.WriteTimeout, DefaultWriteTimeout) }

// Serve accepts connections on l until Shutdown; it returns ErrServerClosed
// then. Call it once per listener; all share the settings.
func (s *Server) Serve(l net.Listener) error {
	srv := s.server()
	if s.limErr != nil {
		_ = l.Close()
		return s.limErr
	}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		_ = l.Close()
		return ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	s.serving.Add(1)
	s.mu.Unlock()
	defer s.serving.Done()
	err := srv.Serve(watchListener{Listener: l, s: s})
	s.mu.Lock()
	delete(s.listeners, l)
	stopping := s.stopping
	s.mu.Unlock()
	if stopping {
		// The accept loop ended because Shutdown closed its listener.
		return ErrServerClosed
	}
	return err
}

// connState notes when a connection waits between requests (the one idle
// longest makes room at MaxConns) and lets go of closed connections, for
// MaxConns and Shutdown; then it tells ConnState. A connection counts from
// its admission (admit, in Accept) on.
func (s *Server) connState(c net.Conn, st http.ConnState) {
	if wc, ok := c.(*watchConn); ok {
		switch st {
		case http.StateIdle:
			wc.idleSince.Store(time.Now().UnixNano())
		case http.StateActive:
			wc.idleSince.Store(0)
		case http.StateClosed, http.StateHijacked:
			wc.idleSince.Store(0)
			s.mu.Lock()
			delete(s.live, wc) // none when admit closed it for room
			if len(s.live) == 0 && s.stopping && s.drained != nil {
				close(s.drained)
				s.drained = nil
			}
			s.mu.Unlock()
		}
	}
	if s.ConnState != nil {
		s.ConnState(c, st)
	}
}

// Shutdown stops accepting, waits for in-flight requests until ctx ends,
// then closes what is left.
//
// net/http's own Shutdown drops a request it reads after the stop began —
// one a web server sent on a connection still in the listen queue, or on a
// kept-alive connection, just before SIGTERM — closing the connection
// without an answer. So the stop has two steps: first the listeners close
// (a listener from listener.Open hands out the connections already queued
// in the kernel before it reports closed), keep-alives end, and every
// request read until the last connection closes is served, with
// "Connection: close"; then net/http's Shutdown, bounded by ctx, ends the
// rest (connections that never sent a request).
func (s *Server) Shutdown(ctx context.Context) error {
	srv := s.server()
	s.mu.Lock()
	s.stopping = true
	for l := range s.listeners {
		_ = l.Close()
	}
	s.mu.Unlock()
	srv.SetKeepAlivesEnabled(false) // also closes the idle connections
	// The accept loops end once their listeners have handed out what was
	// queued; every connection they took is counted by then.
	loops := make(chan struct{})
	go func() { s.serving.Wait(); close(loops) }()
	select {
	case <-loops:
	case <-ctx.Done():
	}
	s.mu.Lock()
	var drained <-chan struct{}
	if len(s.live) > 0 {
		ch := make(chan struct{})
		s.drained, drained = ch, ch
	}
	s.mu.Unlock()
	if drained != nil {
		// A connection that sends nothing is bounded by ReadHeaderTimeout;
		// the second step closes it sooner when ctx ends first.
		select {
		case <-drained:
		case <-ctx.Done():
		}
	}
	err := srv.Shutdown(ctx)
	if errors.Is(err, net.ErrClosed) {
		err = nil // the listeners, which the first step closed
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		_ = srv.Close()
	}
	return err
}

// ServeHTTP runs one request through the core.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rf, closeConn := s.check(r)
	wc := connOf(r)
	if rf != nil {
		if wc != nil {
			wc.unread.Store(r.ContentLength != 0)
		}
		refuse(w, rf)
		return
	}
	opts := environ.Options{
		ServerSoftware:    s.ServerSoftware,
		PassAuthorization: s.PassAuthorization,
	}
	if wc != nil {
		opts.Local = &wc.local
	}
	if wc != nil && r.Body != nil && r.Body != http.NoBody && expectsContinue(r) {
		// net/http writes "100 Continue" itself at the body's first read,
		// which may come long after the last read or write moved the
		// connection's write deadline (a request queued for an upstream
		// connection): the deadline is moved first when due.
		r.Body = &continueBody{ReadCloser: r.Body, wc: wc}
	}
	env := environ.FromRequest(r, opts)
	x, _ := s.exchs.Get().(*exchange)
	if x == nil {
		x = new(exchange)
	}
	x.req = handler.Request{Env: env, Body: r.Body, Protocol: "http", HTTP: r, Form: handler.FormOrigin}
	x.sink = sink{w: w, closeConn: closeConn, wc: wc}
	if dl, ok := w.(writedeadline.Setter); ok {
		x.sink.dl = dl
		if wc == nil {
			// Served by another http.Server (ServeHTTP called directly):
			// the pacer is the request's, since net/http clears the
			// deadline after each request.
			x.sink.pace = &x.pace
			x.pace.Timeout = s.writeTimeout()
		}
	}
	res := s.Handler.ServeSink(r.Context(), &x.req, &x.sink)
	if wc != nil {
		// A body the app left unread makes the connection's close a
		// lingering one (a chunked body's length is not known: -1).
		wc.unread.Store(r.ContentLength != 0 && res.BytesIn != r.ContentLength)
	}
	// net/http writes what is buffered and the end of the response after
	// ServeHTTP returns: under the same bound, at least three quarters of
	// WriteTimeout ahead (moving it again for that was one timer update
	// more per request); a full one when the app set a deadline of its
	// own, which the pacer did not set.
	x.sink.extend(x.sink.appDeadline.Load())
	*x = exchange{}
	s.exchs.Put(x)
	if res.Incomplete() {
		// Make net/http drop the connection without ending the body
		// properly, so the client sees a truncated response.
		panic(http.ErrAbortHandler)
	}
}

// sink hands the core's response to net/http, which frames it.
type sink struct {
	w           http.ResponseWriter
	wc          *watchConn           // the connection, which paces its write deadline; nil when not ours
	dl          writedeadline.Setter // w's connection deadline, nil when w has none
	pace        *writedeadline.Pacer // WriteTimeout, when wc is nil and dl is not
	closeConn   bool                 // end the connection after this response
	appDeadline atomic.Bool          // the app set a write deadline (from any goroutine)
}

// extend moves the write deadline to WriteTimeout from now before a write
// may block (see writedeadline.Pacer); force moves it regardless.
func (s *sink) extend(force bool) {
	switch {
	case s.wc != nil:
		s.wc.paceWrite(force)
	case s.pace != nil:
		s.pace.Extend(s.dl, force)
	}
}

// Header is net/http's own map: the app's headers go there directly
// (handler.HeaderSink).
func (s *sink) Header() http.Header { return s.w.Header() }

// WriteHead is given the map of Header, already final.
func (s *sink) WriteHead(status int, header http.Header) error {
	if s.closeConn {
		header["Connection"] = []string{"close"}
	}
	s.extend(false)
	s.w.WriteHeader(status)
	return nil
}

func (s *sink) Write(p []byte) (int, error) {
	s.extend(false)
	return s.w.Write(p)
}

func (s *sink) Flush() error {
	s.extend(false)
	return http.NewResponseController(s.w).Flush()
}

// Finish leaves the last flush to net/http, which does it when ServeHTTP
// returns, together with the end of the response.
func (s *sink) Finish() error { return nil }

var (
	_ http.Handler       = (*Server)(nil)
	_ handler.HeaderSink = (*sink)(nil)
)
