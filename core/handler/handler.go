package handler

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/lograte"
)

// DefaultBufferSize is how many body bytes the handler holds back, when
// Handler.BufferSize is zero, so that a small response goes out with a
// Content-Length.
const DefaultBufferSize = 8 << 10

// errorBody is the whole body of the 500 page: no diagnostics, by design.
const errorBody = "A server error occurred.  Please contact the administrator.\n"

// badRequestBody is the whole body of the 400 page for an environment that
// builds no request (no REQUEST_METHOD, a malformed CONTENT_LENGTH).
const badRequestBody = "Bad Request\n"

// ErrAbortHandler is what a Result carries when the app panicked with
// http.ErrAbortHandler: the response is cut off without a stack in the log.
var ErrAbortHandler = http.ErrAbortHandler

// ErrHeaderInjection is returned (wrapped) when the app sets a header whose
// name or value holds CR, LF or NUL.
var ErrHeaderInjection = errors.New("handler: CR, LF or NUL in a response header")

// ErrShortBody is the Result error when the app declared a Content-Length and
// wrote fewer bytes.
var ErrShortBody = errors.New("handler: body shorter than the declared Content-Length")

// Handler runs one application for the requests front ends hand it.
// The zero value is not usable: App must be set. A Handler is safe for
// concurrent use and must not be copied after first use.
type Handler struct {
	// App is the application. Required.
	App http.Handler
	// OriginServer selects the response form of a request whose Form is
	// FormDefault: true writes an HTTP status line, Date and Server (an HTTP
	// origin server, or NPH); false writes a "Status:" header (CGI, FastCGI,
	// SCGI). Default false. Front ends do not change it: each asks for its
	// own form in Request.Form, so that one Handler can serve several.
	OriginServer bool
	// ServerSoftware is the Server header added in origin-server form unless
	// the app set one. Empty adds none.
	ServerSoftware string
	// BufferSize is how many body bytes are held back to compute a
	// Content-Length for a response that ends without one. Zero means
	// DefaultBufferSize; negative disables holding back.
	BufferSize int
	// Log receives errors and dropped headers. Nil means no logging.
	Log *zap.Logger
	// Observer, when set, is told when each request starts and ends.
	Observer Observer
	// Now is the clock for the Date header. Nil means time.Now.
	Now func() time.Time
	// TrustRequestID takes a request's id from its X-Request-Id header
	// (HTTP_X_REQUEST_ID) when that is 1 to 128 visible ASCII characters;
	// otherwise the core makes one. Default false: a client could choose
	// ids that collide with other requests' in the logs, so set it only
	// behind a front (a proxy, a web server) that sets or clears the header.
	TrustRequestID bool
	// RequestIDHeader sends the request's id back in an X-Request-Id
	// response header, unless the app set one. Default false.
	RequestIDHeader bool

	once   sync.Once
	badEnv lograte.Limiter // warnings about environments that build no request
	ids    *idSource
	dates  dateCache
	bufs   sync.Pool
}

// Request is what a front end hands the handler for one request.
type Request struct {
	// Env is the request's environment. The handler removes HTTP_PROXY from
	// it (httpoxy) and then shares it read-only with the app.
	Env environ.Env
	// Body is the request body; nil for none.
	Body io.Reader
	// Errors is the error stream (wsgi.errors): FastCGI's STDERR, a CGI
	// program's stderr. Nil means the log only.
	Errors io.Writer
	// Protocol names the front end for logs and metrics.
	Protocol string
	// HTTP, when set, is the request as net/http parsed it; the handler uses
	// it (with Env in its context) instead of rebuilding one from Env.
	HTTP *http.Request
	// Form is the response form the front end answers in. The form belongs
	// to the front end, not to the Handler: a Handler shared by an HTTP and a
	// FastCGI front end answers each in its own form.
	Form Form
}

// Form is a response form: how the status and the headers the core adds
// are written.
type Form uint8

const (
	// FormDefault takes the form from Handler.OriginServer.
	FormDefault Form = iota
	// FormGateway is the CGI form: a "Status: 200 OK" header, no Date or
	// Server (CGI, FastCGI, SCGI).
	FormGateway
	// FormOrigin is an HTTP origin server's: a status line, Date and Server.
	FormOrigin
)

// origin reports whether req is answered in origin-server form.
func (h *Handler) origin(req *Request) bool {
	switch req.Form {
	case FormGateway:
		return false
	case FormOrigin:
		return true
	}
	return h.OriginServer
}

// Result says how a request went.
type Result struct {
	// Status is the status sent, or that would have been sent.
	Status int
	// HeadSent reports whether the head went out.
	HeadSent bool
	// BytesIn and BytesOut count body bytes read from the request and
	// written to the response.
	BytesIn, BytesOut int64
	// Duration is the time from the start of Serve to its end.
	Duration time.Duration
	// Err is nil when the app and the output did their part. Otherwise it
	// says what failed: the app (then the client got the 500 page if nothing
	// had been sent yet) or the output.
	Err error
	// Info is what the core and the app recorded about the request: its
	// id, route and app, and the app's exit status (FastCGI's appStatus).
	Info *Info

	incomplete bool // see Incomplete
}

// Incomplete reports that the response went out only in part: the app
// failed after its head was sent. The front end must then cut the response
// short in the way its wire allows (close without the final record, reset
// the connection), so that the client can tell.
func (r *Result) Incomplete() bool { return r.incomplete }

func (h *Handler) init() {
	h.once.Do(func() {
		h.ids = newIDSource()
		if h.Log == nil {
			h.Log = zap.NewNop()
		}
		h.bufs.New = func() any { return bufio.NewWriterSize(nil, 4096) }
	})
}

func (h *Handler) date() string {
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	return h.dates.format(now())
}

// Serve runs the app for req and writes the response to out, in the form
// req.Form (or, for FormDefault, OriginServer) selects. It does not close out.
// When the app flushes and out has a method Flush() error, that is called
// after out got the bytes.
func (h *Handler) Serve(ctx context.Context, req *Request, out io.Writer) Result {
	h.init()
	bw := h.bufs.Get().(*bufio.Writer)
	bw.Reset(out)
	origin := h.origin(req)
	s := streamSink{w: bw, out: out, origin: origin, h: h}
	if origin {
		s.proto = statusLineProto(req.Env["SERVER_PROTOCOL"])
	}
	res := h.ServeSink(ctx, req, &s)
	bw.Reset(nil)
	h.bufs.Put(bw)
	return res
}

// statusLineProto is the version an origin server answers a client with:
// the client's own for HTTP/1.0, HTTP/1.1 for anything newer, none for 0.9.
func statusLineProto(p string) string {
	switch p {
	case "HTTP/0.9":
		return ""
	case "HTTP/1.0":
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

// ServeSink runs the app for req and hands the response to sink.
func (h *Handler) ServeSink(ctx context.Context, req *Request, sink Sink) (res Result) {
	h.init()
	start := time.Now()
	// One allocation holds what the request needs for its whole life.
	st := &requestState{info: Info{Protocol: req.Protocol, Errors: req.Errors, Start: start}}
	info := &st.info
	if id := req.Env["HTTP_X_REQUEST_ID"]; h.TrustRequestID && validRequestID(id) {
		info.ID = id
	} else {
		// The id's bytes live in the request's state, which is never
		// reused or changed after this, so the string needs no copy.
		b := h.ids.append(st.id[:0])
		info.ID = unsafe.String(unsafe.SliceData(b), len(b))
	}
	if h.Observer != nil {
		h.Observer.Begin(req, info)
	}
	defer func() {
		res.Duration = time.Since(start)
		if h.Observer != nil {
			// The observer gets the request's own copy: a pointer to res
			// would move res to the heap, one allocation per request.
			st.res = res
			h.Observer.End(req, info, &st.res)
		}
	}()

	delete(req.Env, "HTTP_PROXY")
	st.ctx.init(ctx, info, req.Env)
	defer st.ctx.cancel()
	ctx = &st.ctx

	body := &st.body
	body.r, body.n = req.Body, &info.live.bytesIn
	// The app's request lives in the request's one allocation too.
	hr := &st.hr
	if req.HTTP != nil {
		*hr = *req.HTTP.WithContext(ctx)
		if req.HTTP.Body != nil && req.HTTP.Body != http.NoBody {
			body.r = req.HTTP.Body
			hr.Body = body
		}
	} else {
		var in io.Reader
		if req.Body != nil {
			in = body
		}
		if err := req.Env.RequestInto(ctx, hr, in); err != nil {
			// The environment came from the peer (a web server's params, a
			// CGI host's variables): its fault is a 400, logged as a
			// warning it cannot multiply, not a 500 that pages someone.
			if ok, n := h.badEnv.Allow(time.Now()); ok {
				h.Log.Warn("bad request environment; answering 400", zap.String("request_id", info.ID),
					zap.String("protocol", req.Protocol), zap.Error(err), zap.Int64("suppressed", n))
			}
			w := st.writer(h, sink, nil, req)
			w.sendStatus(http.StatusBadRequest, badRequestBody)
			return w.result(nil, body)
		}
	}
	w := st.writer(h, sink, hr, req)
	err := h.run(w, hr, info, req)
	return w.result(err, body)
}

// requestState is everything the core allocates per request, in one piece.
// The held-back body is not in it: it lives in a pooled buffer only until
// the head goes out (see responseWriter.keep).
type requestState struct {
	info Info
	ctx  requestContext
	body countingReader
	w    responseWriter
	hr   http.Request
	res  Result      // what the observer is told
	id   [idLen]byte // the bytes of info.ID when the core made it
}

func (st *requestState) writer(h *Handler, sink Sink, r *http.Request, req *Request) *responseWriter {
	st.w.init(h, sink, r, &st.ctx, req, &st.info)
	return &st.w
}

// run calls the app and finishes the response; the error is the app's
// failure or the output's.
func (h *Handler) run(w *responseWriter, r *http.Request, info *Info, req *Request) (err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler {
			err = ErrAbortHandler
		} else {
			err = fmt.Errorf("handler: app panicked: %v", p)
			stack := debug.Stack()
			h.Log.Error("app panicked", zap.String("request_id", info.ID),
				zap.String("protocol", info.Protocol), zap.Any("panic", p),
				zap.ByteString("stack", stack))
			if req.Errors != nil {
				fmt.Fprintf(req.Errors, "gatewayd: request %s: app panicked: %v\n%s", info.ID, p, stack)
			}
		}
		w.fail(err)
	}()
	h.App.ServeHTTP(w, r)
	return w.finish()
}

// countingReader counts into the request's Info, where the status page
// reads the count while the request runs.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n.Add(int64(n))
	}
	return n, err
}

func (c *countingReader) Close() error {
	if rc, ok := c.r.(io.Closer); ok {
		return rc.Close()
	}
	return nil
}

// bodyAllowed reports whether a status may carry a body (RFC 9110 6.4.1).
func bodyAllowed(status int) bool {
	return !(status >= 100 && status <= 199) && status != 204 && status != 304
}

// validHeaderField reports whether s is free of CR, LF and NUL.
func validHeaderField(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}
