package http

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
)

// Defaults for the zero values of Server's fields.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
)

// Server serves HTTP/1.x on listeners through a core handler.
type Server struct {
	// Handler runs the app. Required. Responses are in origin-server form
	// (Server header) whatever its OriginServer says; the Handler is not
	// changed, so that it may serve other front ends too.
	Handler *handler.Handler
	// ReadHeaderTimeout bounds reading a request's head. Zero means 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle that long. Zero means 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's head. Zero means 64 KiB.
	MaxHeaderBytes int
	// PassAuthorization passes Authorization as HTTP_AUTHORIZATION. Default false.
	PassAuthorization bool
	// ServerSoftware is SERVER_SOFTWARE. Empty means "gatewayd".
	ServerSoftware string
	// Log receives server errors. Nil means none.
	Log *zap.Logger
	// ConnState, when set, is told of connection state changes (metrics).
	ConnState func(net.Conn, http.ConnState)

	once  sync.Once
	srv   *http.Server
	exchs sync.Pool // *exchange
}

// exchange is what one request needs besides the core's state; pooled,
// since nothing keeps it once ServeHTTP returns.
type exchange struct {
	req  handler.Request
	sink sink
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
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: orDefault(s.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		IdleTimeout:       orDefault(s.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    orDefault(s.MaxHeaderBytes, DefaultMaxHeaderBytes),
		ErrorLog:          zap.NewStdLog(log.Named("http")),
		ConnState:         s.ConnState,
	}
}

// Serve accepts connections on l until Shutdown; it returns ErrServerClosed
// then. Call it once per listener; all share the settings.
func (s *Server) Serve(l net.Listener) error {
	return s.server().Serve(l)
}

// Shutdown stops accepting, waits for in-flight requests until ctx ends,
// then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	srv := s.server()
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		_ = srv.Close()
	}
	return err
}

// ServeHTTP runs one request through the core.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	env := environ.FromRequest(r, environ.Options{
		ServerSoftware:    s.ServerSoftware,
		PassAuthorization: s.PassAuthorization,
	})
	x, _ := s.exchs.Get().(*exchange)
	if x == nil {
		x = new(exchange)
	}
	x.req = handler.Request{Env: env, Body: r.Body, Protocol: "http", HTTP: r, Form: handler.FormOrigin}
	x.sink.w = w
	res := s.Handler.ServeSink(r.Context(), &x.req, &x.sink)
	*x = exchange{}
	s.exchs.Put(x)
	if res.Incomplete() {
		// Make net/http drop the connection without ending the body
		// properly, so the client sees a truncated response.
		panic(http.ErrAbortHandler)
	}
}

// sink hands the core's response to net/http, which frames it.
type sink struct{ w http.ResponseWriter }

func (s *sink) WriteHead(status int, header http.Header) error {
	dst := s.w.Header()
	for k, v := range header {
		dst[k] = v
	}
	s.w.WriteHeader(status)
	return nil
}

func (s *sink) Write(p []byte) (int, error) { return s.w.Write(p) }

func (s *sink) Flush() error { return http.NewResponseController(s.w).Flush() }

// Finish leaves the last flush to net/http, which does it when ServeHTTP
// returns, together with the end of the response.
func (s *sink) Finish() error { return nil }

func orDefault[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

var (
	_ http.Handler = (*Server)(nil)
	_ handler.Sink = (*sink)(nil)
)
