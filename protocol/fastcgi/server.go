package fastcgi

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/event"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/lograte"
	"github.com/gatewayd/gatewayd/internal/rawio"
	"github.com/gatewayd/gatewayd/internal/workers"
	"github.com/gatewayd/gatewayd/protocol/internal/overload"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("fastcgi: server closed")

// Server serves FastCGI 1.0 connections from web servers, in the Responder
// and Authorizer roles, running each request through Handler.
//
// The zero values of the limits mean their defaults; a negative one makes
// Serve fail, but for MaxSpoolBytes, where it means nothing is spooled. A Server must not be
// copied after first use; its fields must not change once Serve was called.
type Server struct {
	// Handler runs the application. Required. The server uses its App,
	// ServerSoftware, BufferSize, Log, Observer and Now, and always answers
	// in gateway form ("Status: 200 OK"), whatever OriginServer says; the
	// Handler is not changed, so that it may serve other front ends too.
	Handler *handler.Handler

	// MaxConns is how many connections are served at once; a connection
	// over it has its first request answered FCGI_OVERLOADED and is closed.
	// Zero means DefaultMaxConns (1024).
	MaxConns int
	// MaxReqs is how many requests one connection carries at once. 1 turns
	// multiplexing off (FCGI_MPXS_CONNS "0", a second request gets
	// FCGI_CANT_MPX_CONN); above 1 a request over it gets FCGI_OVERLOADED.
	// Zero means DefaultMaxReqs (64).
	MaxReqs int
	// MaxParamsBytes bounds one request's FCGI_PARAMS stream; a larger one
	// is answered 431 without running the app. Zero means
	// DefaultMaxParamsBytes (65536).
	MaxParamsBytes int
	// ReadTimeout is how long a web server may take from opening a
	// connection to its first record, from a request's FCGI_BEGIN_REQUEST to
	// the end of its parameters, and from the first byte of a record to its
	// last; past it the connection is closed. Idle keep-alive connections
	// and bodies that trickle in whole records have no timeout. Zero means
	// DefaultReadTimeout (30s).
	ReadTimeout time.Duration
	// WriteTimeout is how long the web server may leave the server's output
	// unread: a write that cannot finish in it, or answers that pile up
	// unread for it, close the connection. Zero means DefaultWriteTimeout
	// (60s).
	WriteTimeout time.Duration
	// BodyBuffer bounds the request body held in memory for one request
	// whose app has not read it yet. Zero means DefaultBodyBuffer (64 KiB).
	// See the package documentation for what happens when it is full.
	BodyBuffer int
	// MaxSpoolBytes bounds the part of one request body spooled to a
	// temporary file when its memory buffer is full on a multiplexed
	// connection; past it the app's body read fails with ErrBodyTooLarge.
	// Zero means DefaultMaxSpoolBytes (64 MiB); negative spools nothing.
	MaxSpoolBytes int64
	// SpoolDir is where spooled bodies go (unlinked files). Empty means
	// os.TempDir().
	SpoolDir string
	// LiteralPaths turns off the nginx routing rule: by default, a request
	// with SCRIPT_NAME and no PATH_INFO (nginx's stock fastcgi_params) is
	// routed as PATH_INFO = SCRIPT_NAME and SCRIPT_NAME = "". Default false.
	LiteralPaths bool
	// Log receives connection-level events and protocol errors. Nil means
	// no logging.
	Log *zap.Logger
	// Observer, when set, is told about connections, refusals and aborts.
	Observer Observer

	once      sync.Once
	core      *handler.Handler
	badInput  lograte.Limiter // warnings about the web server's malformed requests
	refused   overload.Log    // warnings about connections over MaxConns
	log       *zap.Logger
	lim       limits
	limErr    error // a negative limit that cannot be off: Serve refuses to start
	mu        sync.Mutex
	lns       map[*net.Listener]struct{}
	conns     map[*conn]struct{}
	active    int // connections within MaxConns, lingering ones not counted
	refuse    int // connections over it, being answered FCGI_OVERLOADED
	lingering int // connections within MaxConns whose answers are complete, draining before their close
	closing   bool
	stopped   bool          // Close was called: what Accept still returns is closed
	serving   int           // Serve loops running: after Shutdown they still hand out the listener's queue
	idle      chan struct{} // closed when closing and no connection or Serve loop is left
	workers   workers.Pool  // runs connections and requests on goroutines that keep their grown stacks
}

// Observer is told what happens on a Server's connections, for metrics. Its
// methods are called from many goroutines at once and must be quick.
// Per-request numbers (status, duration, bytes) come from handler.Observer.
type Observer interface {
	// ConnOpened is called when a connection within MaxConns is accepted.
	ConnOpened()
	// ConnClosed is called when it is closed, with the number of requests
	// it ran.
	ConnClosed(requests int)
	// Refused is called for each request answered without running the app,
	// with its FCGI_END_REQUEST's protocolStatus as a word:
	// event.RefuseOverloaded (over MaxConns or MaxReqs),
	// event.RefuseCantMpxConn, event.RefuseUnknownRole.
	Refused(reason event.Refusal)
	// Aborted is called for each FCGI_ABORT_REQUEST that found its request.
	Aborted()
	// ConnRefused is called for each connection over MaxConns (its first
	// request is then answered FCGI_OVERLOADED, or it is closed at once).
	ConnRefused()
}

func (s *Server) init() {
	s.once.Do(func() {
		s.log = s.Log
		if s.log == nil {
			s.log = zap.NewNop()
		}
		s.lim, s.limErr = s.limits()
		s.core = s.Handler
		s.lns = make(map[*net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
		s.idle = make(chan struct{})
	})
}

// Serve accepts connections on l and serves them until l fails or Shutdown
// is called; it then returns ErrServerClosed. It closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	if s.core == nil {
		return errors.New("fastcgi: Server.Handler is nil")
	}
	if s.limErr != nil {
		l.Close()
		return s.limErr
	}
	if !s.trackListener(&l, true) {
		return ErrServerClosed
	}
	defer s.trackListener(&l, false)
	var delay time.Duration
	for {
		rw, err := l.Accept()
		if err != nil {
			if s.shuttingDown() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("fastcgi: accept failed; retrying", zap.Error(err), zap.Duration("delay", delay))
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := s.newConn(rawio.Wrap(rw))
		if c == nil {
			continue
		}
		s.workers.Go(c.serve)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closing {
			(*l).Close()
			return false
		}
		s.lns[l] = struct{}{}
		s.serving++
		return true
	}
	if _, ok := s.lns[l]; ok {
		delete(s.lns, l)
	}
	// Closed again: a listener from package listener closes the queued
	// connections no one accepted.
	(*l).Close()
	s.serving--
	s.idleLocked()
	return true
}

// idleLocked wakes Shutdown once it has begun and no connection and no
// Serve loop is left. s.mu is held.
func (s *Server) idleLocked() {
	if s.closing && len(s.conns) == 0 && s.serving == 0 {
		select {
		case <-s.idle:
		default:
			close(s.idle)
		}
	}
}

// startLinger moves c, whose answers are all written and which carries no
// more requests, out of MaxConns: it is no longer served, only drained
// before its close. Behind nginx without fastcgi_keep_conn every
// connection passes through this state for as long as nginx and the
// reading goroutine take to see its end, tens of milliseconds on a busy
// core. Within overload.MayDrain's bound; past it a connection is closed
// at once (false).
func (s *Server) startLinger(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.refuse || c.lingering {
		return true
	}
	if !overload.MayDrain(s.lingering, s.lim.maxConns) {
		return false
	}
	s.active--
	s.lingering++
	c.lingering = true
	return true
}

func (s *Server) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// newConn registers an accepted connection, or closes it and returns nil.
func (s *Server) newConn(rw net.Conn) *conn {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		rw.Close()
		return nil
	}
	refuse := false
	switch overload.Admit(s.active, s.refuse, s.lim.maxConns) {
	case overload.Drop:
		s.mu.Unlock()
		rw.Close()
		s.refusedConn(rw, "fastcgi: over max_conns; connection closed")
		if s.Observer != nil {
			s.Observer.Refused(event.RefuseOverloaded)
		}
		return nil
	case overload.Refuse:
		s.refuse++
		refuse = true
	default:
		s.active++
	}
	c := newConn(s, rw, refuse)
	// Accepted after Shutdown began: the listener's close took it from
	// the kernel's queue, where the web server had put its request before
	// the shutdown. It is served, and closed after its request.
	c.draining = s.closing
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if refuse {
		s.refusedConn(rw, "fastcgi: over max_conns; answering FCGI_OVERLOADED")
	} else if s.Observer != nil {
		s.Observer.ConnOpened()
	}
	return c
}

// refusedConn counts a connection over MaxConns and logs it.
func (s *Server) refusedConn(rw net.Conn, msg string) {
	if s.Observer != nil {
		s.Observer.ConnRefused()
	}
	s.refused.Refused(s.log, msg, s.lim.maxConns, rw.RemoteAddr())
}

func (s *Server) connDone(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	switch {
	case c.refuse:
		s.refuse--
	case c.lingering:
		s.lingering--
	default:
		s.active--
	}
	s.idleLocked()
	s.mu.Unlock()
	if !c.refuse && s.Observer != nil {
		s.Observer.ConnClosed(c.served)
	}
}

// Shutdown stops accepting connections, closes idle ones, lets requests in
// flight finish and closes each connection when it has none left. The
// connections a listener's close took from the kernel's queue (package
// listener) are still accepted and served, one request each. It
// returns when every connection is closed, or with ctx's error when ctx ends
// first, after closing the rest at once (their requests are cancelled).
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	conns := s.stopAcceptingLocked()
	s.idleLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.drain()
	}
	select {
	case <-s.idle:
		s.workers.Close()
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes the listeners and every connection at once; requests in
// flight are cancelled. It does not wait for their handlers to return.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	s.stopped = true
	conns := s.stopAcceptingLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.rwc.Close()
	}
	s.workers.Close()
	return nil
}

// stopAcceptingLocked marks the server closing, closes its listeners and
// returns the connections open now. s.mu must be held.
func (s *Server) stopAcceptingLocked() []*conn {
	s.closing = true
	for l := range s.lns {
		(*l).Close()
		delete(s.lns, l)
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns
}
