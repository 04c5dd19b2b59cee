package scgi

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

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/lograte"
	"github.com/gatewayd/gatewayd/internal/rawio"
	"github.com/gatewayd/gatewayd/internal/setting"
	"github.com/gatewayd/gatewayd/internal/workers"
	"github.com/gatewayd/gatewayd/protocol/internal/overload"
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
	// key listeners[].max_header_bytes; negative makes Serve fail.
	MaxHeaderBytes int
	// ReadTimeout is how long the peer may take to send the head, and then
	// how long any one read of the body may wait. Zero means
	// DefaultReadTimeout (30s), the config key listeners[].read_timeout;
	// negative makes Serve fail (a head that never comes would hold its
	// connection for ever).
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
	// the config key listeners[].max_conns; negative makes Serve fail.
	MaxConns int
	// Refused, when set, is called for each connection over MaxConns, for
	// metrics. It must be quick.
	Refused func(net.Conn)
	// Log receives malformed requests and responses cut short (one line per
	// interval for what a peer can repeat at will). Nil means no logging.
	Log *zap.Logger
	// ConnState, when set, is told that a connection was accepted
	// (http.StateNew), that its head was read (http.StateActive) and that it
	// was closed (http.StateClosed, once it no longer counts against
	// MaxConns), as net/http's hook is, for metrics. It is called from the
	// connection's goroutine and must be quick.
	ConnState func(net.Conn, http.ConnState)

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	draining  map[net.Conn]struct{} // answered, draining an unread body before the close: outside MaxConns
	refusing  int                   // connections over MaxConns being answered 503
	badInput  lograte.Limiter
	refused   overload.Log
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
		s.draining = make(map[net.Conn]struct{})
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
	if err := s.limits(); err != nil {
		l.Close()
		return err
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
		c = rawio.Wrap(c)
		decision, closing := s.add(c)
		switch {
		case closing:
			c.Close()
		case decision == overload.Serve:
			s.workers.Go(func() { s.serveConn(c) })
		case decision == overload.Refuse:
			s.refuseConn(c, true)
			go s.overloaded(c)
		default:
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
	// Shutdown waits for the Serve loop too: after the listener's close it
	// still hands out the connections the close took from the kernel's
	// queue (package listener).
	s.active.Add(1)
	return true
}

func (s *Server) untrack(l net.Listener) {
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
	// Closed again: a listener from package listener closes the queued
	// connections no one accepted.
	l.Close()
	s.active.Done()
}

// add registers a connection and decides what becomes of it; closing when
// Shutdown ran out of time.
func (s *Server) add(c net.Conn) (decision overload.Decision, closing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A connection accepted after Shutdown began is served: the web server
	// queued it, request and all, before the shutdown.
	if s.ctx.Err() != nil {
		return overload.Drop, true
	}
	decision = overload.Admit(len(s.conns), s.refusing, s.maxConns())
	switch decision {
	case overload.Serve:
		s.conns[c] = struct{}{}
		s.active.Add(1)
	case overload.Refuse:
		s.refusing++
		s.active.Add(1)
	}
	return decision, false
}

// startDrain moves c, answered, out of MaxConns for the drain of the body
// its app left unread, within overload.MayDrain's bound; past it the
// caller closes at once (false).
func (s *Server) startDrain(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !overload.MayDrain(len(s.draining), s.maxConns()) {
		return false
	}
	delete(s.conns, c)
	s.draining[c] = struct{}{}
	return true
}

// refuseConn counts and logs a connection over MaxConns.
func (s *Server) refuseConn(c net.Conn, answered bool) {
	if s.Refused != nil {
		s.Refused(c)
	}
	msg := "scgi: over max_conns; answering 503"
	if !answered {
		msg = "scgi: over max_conns; connection closed"
	}
	s.refused.Refused(s.log(), msg, s.maxConns(), c.RemoteAddr())
}

// overloaded answers a connection over MaxConns 503 and closes it
// (overload.Answer).
func (s *Server) overloaded(c net.Conn) {
	defer func() {
		s.mu.Lock()
		s.refusing--
		s.mu.Unlock()
		s.active.Done()
	}()
	overload.Answer(c, overloaded, s.readTimeout())
}

// remove lets go of a served connection. As with net/http, ConnState hears
// http.StateClosed once the connection no longer counts against MaxConns,
// and before Shutdown can return.
func (s *Server) remove(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	delete(s.draining, c)
	s.mu.Unlock()
	if s.ConnState != nil {
		s.ConnState(c, http.StateClosed)
	}
	s.active.Done()
}

// Shutdown stops accepting (closing the listeners), then waits for the
// requests in flight to finish, those of the connections the listeners'
// close took from the kernel's queue (package listener) included. When ctx
// ends first it cancels their contexts, closes their connections and
// returns ctx's error.
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
	for c := range s.draining {
		c.Close()
	}
	s.mu.Unlock()
	return ctx.Err()
}

// The limits with their defaults (internal/setting's rule); limits checks
// that none that cannot be off is negative.
func (s *Server) readTimeout() time.Duration { return setting.Or(s.ReadTimeout, DefaultReadTimeout) }

// writeTimeout is WriteTimeout with its default; negative means no limit.
func (s *Server) writeTimeout() time.Duration { return setting.Or(s.WriteTimeout, DefaultWriteTimeout) }

func (s *Server) maxConns() int { return setting.Or(s.MaxConns, DefaultMaxConns) }

func (s *Server) maxHeaderBytes() int {
	return min(setting.Or(s.MaxHeaderBytes, DefaultMaxHeaderBytes), 1<<30)
}

func (s *Server) limits() error {
	err := setting.Negative(setting.N("MaxHeaderBytes", s.MaxHeaderBytes),
		setting.N("ReadTimeout", s.ReadTimeout), setting.N("MaxConns", s.MaxConns))
	if err != nil {
		return fmt.Errorf("scgi: %w", err)
	}
	return nil
}
