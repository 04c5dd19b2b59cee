package handler

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
)

// errWriteAfterReturn is returned to an app that writes after ServeHTTP
// returned, from a goroutine it left behind.
var errWriteAfterReturn = errors.New("handler: write after the app returned")

// sniffLen is how much of a body http.DetectContentType looks at.
const sniffLen = 512

// responseWriter is the http.ResponseWriter an app runs with. It holds the
// head and the first BufferSize body bytes back, so that it can still add a
// Content-Length, or replace everything with the 500 page, when the app ends.
type responseWriter struct {
	h      *Handler
	sink   Sink
	req    *Request
	info   *Info
	ctx    *requestContext // cancelled when the output breaks
	isHead bool
	origin bool // answer in origin-server form (Server header)

	header      http.Header // what the app sees and changes
	own         http.Header // the sink's map when it is a HeaderSink, else nil
	sent        http.Header // the header as it was at WriteHeader
	detached    bool        // header is a copy made after WriteHeader
	status      int
	wroteHeader bool
	headSent    bool
	flushed     bool
	overflowed  bool // more than hold bytes written: no Content-Length
	hold        int
	buf         []byte    // the held-back body, in held's buffer (see keep)
	held        *heldBuf  // the pooled buffer buf is in, until release
	declared    int64     // the app's Content-Length, or -1
	written     int64     // body bytes the app wrote
	out         int64     // body bytes handed to the sink
	incomplete  bool      // the head went out and the body cannot be completed
	cl, server  [1]string // values of the headers the core adds, without an allocation each
	reqID       [1]string // X-Request-Id's value, likewise
	err         error     // the output's or the app's failure
	done        atomic.Bool
}

func (w *responseWriter) init(h *Handler, sink Sink, r *http.Request, ctx *requestContext, req *Request, info *Info) {
	hold := h.BufferSize
	if hold == 0 {
		hold = DefaultBufferSize
	} else if hold < 0 {
		hold = 0
	}
	w.h, w.sink, w.req, w.info, w.ctx = h, sink, req, info, ctx
	w.isHead = r != nil && r.Method == http.MethodHead
	w.origin = h.origin(req)
	if hs, ok := sink.(HeaderSink); ok {
		w.own = hs.Header()
		w.header = w.own
	} else {
		w.header = make(http.Header, 4)
	}
	w.hold = hold
	w.declared = -1
}

// Header returns the header map the app sets. After WriteHeader the head is
// fixed, as with net/http: an app that still reaches for the map gets a copy
// of its own, so that late changes do not reach the response. Copying only
// then spares the common case a clone per request.
func (w *responseWriter) Header() http.Header {
	if w.wroteHeader && !w.detached {
		w.header = w.header.Clone()
		w.detached = true
	}
	return w.header
}

func (w *responseWriter) WriteHeader(code int) {
	if w.done.Load() {
		w.h.Log.Warn("WriteHeader after the app returned", zap.Int("status", code))
		return
	}
	if w.wroteHeader {
		w.h.Log.Warn("superfluous WriteHeader call", zap.Int("status", code), zap.Int("sent", w.status))
		return
	}
	if code < 100 || code > 999 {
		panic("handler: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		// Interim responses have no place in a CGI-style response; the final
		// status follows.
		return
	}
	w.wroteHeader = true
	w.status = code
	w.sent = w.header
	w.info.headDecided()
	if cl := w.sent.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.declared = n
		} else {
			w.h.Log.Warn("app set an invalid Content-Length; dropped", zap.String("value", cl))
			w.sent.Del("Content-Length")
		}
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.done.Load() {
		return 0, errWriteAfterReturn
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.declared >= 0 && w.written+int64(len(p)) > w.declared {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.written > int64(w.hold) {
		w.overflowed = true
	}
	if w.isHead {
		// Keep what content sniffing needs; a HEAD response has no body.
		if !w.headSent && len(w.buf) < sniffLen {
			w.keep(p[:min(len(p), sniffLen-len(w.buf))])
		}
		return len(p), nil
	}
	if !w.headSent {
		if !w.overflowed {
			w.keep(p)
			return len(p), nil
		}
		if err := w.sendHead(false); err != nil {
			return 0, err
		}
	}
	return w.writeBody(p)
}

// WriteString is Write for a string. While the body is held back (the
// usual case: a small response) the string goes into the buffer as it is,
// sparing the copy io.WriteString makes to call Write; anything else goes
// through Write.
func (w *responseWriter) WriteString(s string) (int, error) {
	if !w.wroteHeader && !w.done.Load() && w.err == nil {
		w.WriteHeader(http.StatusOK)
	}
	n := w.written + int64(len(s))
	if w.done.Load() || w.err != nil || w.isHead || w.headSent || w.overflowed || !bodyAllowed(w.status) ||
		(w.declared >= 0 && n > w.declared) || n > int64(w.hold) {
		return w.Write([]byte(s))
	}
	w.written = n
	w.keepString(s)
	return len(s), nil
}

var _ io.StringWriter = (*responseWriter)(nil)

// Flush sends the head and what is held back, and pushes it to the client.
// After a Flush the response has no Content-Length unless the app set one.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush for http.ResponseController.
func (w *responseWriter) FlushError() error {
	if w.done.Load() {
		return errWriteAfterReturn
	}
	if w.err != nil {
		return w.err
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.flushed = true
	if !w.headSent {
		if err := w.sendHead(false); err != nil {
			return err
		}
	}
	if err := w.sink.Flush(); err != nil {
		return w.broken(err)
	}
	return nil
}

// heldBuf is a buffer for a held-back body. The body is held only until the
// head goes out (at the latest when the app returns), and sinks copy what
// they are given, so one buffer serves request after request: a pool
// spares each response an allocation and its zeroing.
type heldBuf struct{ b []byte }

var heldBufs = sync.Pool{New: func() any { return &heldBuf{b: make([]byte, 0, 1024)} }}

// maxPooledHeld is the largest buffer put back in the pool; a larger
// BufferSize's buffers are left to the garbage collector.
const maxPooledHeld = 64 << 10

// keep appends p to the held-back body.
func (w *responseWriter) keep(p []byte) {
	w.holding()
	w.buf = append(w.buf, p...)
}

// keepString is keep for a string, without a copy to a []byte first.
func (w *responseWriter) keepString(s string) {
	w.holding()
	w.buf = append(w.buf, s...)
}

// holding takes a buffer from the pool for the first held-back bytes.
func (w *responseWriter) holding() {
	if w.held == nil {
		w.held = heldBufs.Get().(*heldBuf)
		w.buf = w.held.b[:0]
	}
}

// release drops the held-back body and returns its buffer to the pool.
func (w *responseWriter) release() {
	if w.held != nil {
		if cap(w.buf) <= maxPooledHeld {
			w.held.b = w.buf[:0]
			heldBufs.Put(w.held)
		}
		w.held = nil
	}
	w.buf = nil
}

// sendHead applies the response rules to the header snapshot and hands the
// head and the held-back body to the sink. final is true when the app has
// returned, so the whole body is known.
func (w *responseWriter) sendHead(final bool) error {
	h := w.sent
	if err := w.checkHeader(h); err != nil {
		return w.abortHead(err)
	}
	allowed := bodyAllowed(w.status)
	if !allowed {
		if w.status != http.StatusNotModified {
			h.Del("Content-Length")
		}
	} else {
		if _, ok := h["Content-Type"]; !ok && len(w.buf) > 0 && h.Get("Content-Encoding") == "" {
			h["Content-Type"] = []string{http.DetectContentType(w.buf)}
		}
		if final && w.declared < 0 && !w.flushed && !w.overflowed && !(w.isHead && w.written == 0) {
			w.cl[0] = strconv.FormatInt(w.written, 10)
			h["Content-Length"] = w.cl[:]
		}
	}
	if w.origin && w.h.ServerSoftware != "" {
		if _, ok := h["Server"]; !ok {
			w.server[0] = w.h.ServerSoftware
			h["Server"] = w.server[:]
		}
	}
	w.addRequestID(h)
	w.headSent = true
	if err := w.sink.WriteHead(w.status, h); err != nil {
		return w.broken(err)
	}
	if len(w.buf) > 0 && !w.isHead {
		if _, err := w.writeBody(w.buf); err != nil {
			w.release()
			return err
		}
	}
	w.release()
	return nil
}

// checkHeader drops what an app must not send through a gateway and refuses
// what would corrupt the response.
func (w *responseWriter) checkHeader(h http.Header) error {
	for k, vs := range h {
		if !ValidHeaderName(k) {
			return &headerError{name: k}
		}
		for _, v := range vs {
			if !validHeaderField(v) {
				return &headerError{name: k, value: true}
			}
		}
		// Names are written as the app spelled them (see
		// CaseSensitiveHeader), so a Status in any spelling is dropped.
		if strings.EqualFold(k, "Status") || environ.IsHopByHop(k) {
			w.h.Log.Warn("dropped a header the app must not send", zap.String("header", k),
				zap.String("request_id", w.id()))
			delete(h, k)
		}
	}
	return nil
}

func (w *responseWriter) id() string { return w.info.ID }

type headerError struct {
	name  string
	value bool
}

func (e *headerError) Error() string {
	if e.value {
		return "handler: CR, LF or NUL in the value of response header " + strconv.Quote(e.name)
	}
	return "handler: invalid response header name " + strconv.Quote(e.name)
}

func (e *headerError) Is(target error) bool { return target == ErrHeaderInjection }

// abortHead turns a head that cannot be sent into the 500 page.
func (w *responseWriter) abortHead(err error) error {
	w.h.Log.Error("refused the app's response head", zap.String("request_id", w.id()), zap.Error(err))
	w.sendError()
	if w.err == nil {
		w.err = err
	}
	return err
}

// addRequestID adds the X-Request-Id response header when the Handler
// sends one and the app set none.
func (w *responseWriter) addRequestID(h http.Header) {
	if !w.h.RequestIDHeader || w.info == nil {
		return
	}
	if _, ok := h["X-Request-Id"]; !ok {
		w.reqID[0] = w.info.ID
		h["X-Request-Id"] = w.reqID[:]
	}
}

func (w *responseWriter) writeBody(p []byte) (int, error) {
	n, err := w.sink.Write(p)
	w.out += int64(n)
	w.info.live.bytesOut.Store(w.out)
	if err != nil {
		return n, w.broken(err)
	}
	return n, nil
}

// broken records that the output failed (the client went away) and cancels
// the request, so that the app stops.
func (w *responseWriter) broken(err error) error {
	if w.err == nil {
		w.err = err
	}
	w.ctx.cancel()
	return w.err
}

// finish completes the response after the app returned.
func (w *responseWriter) finish() error {
	w.done.Store(true)
	if w.err != nil {
		return w.err
	}
	if !w.wroteHeader {
		w.wroteHeader = true
		w.status = http.StatusOK
		w.sent = w.header
	}
	if !w.headSent {
		if err := w.sendHead(true); err != nil {
			return err
		}
	}
	if w.declared >= 0 && w.written < w.declared && !w.isHead && bodyAllowed(w.status) {
		_ = w.sink.Flush()
		w.incomplete = true
		return ErrShortBody
	}
	if err := w.sink.Finish(); err != nil {
		return w.broken(err)
	}
	return nil
}

// fail handles an app that panicked: the 500 page when nothing was sent yet,
// otherwise what was written goes out and the result says it is incomplete.
func (w *responseWriter) fail(err error) {
	w.done.Store(true)
	if !w.headSent {
		w.sendError()
		return
	}
	_ = w.sink.Flush()
	w.incomplete = true
	if w.err == nil {
		w.err = err
	}
}

// sendError sends the fixed 500 page in place of whatever the app had set.
func (w *responseWriter) sendError() {
	w.sendStatus(http.StatusInternalServerError, errorBody)
}

// sendStatus sends a plain-text page of the core's own, without the app.
func (w *responseWriter) sendStatus(status int, body string) {
	w.release()
	w.status = status
	h := w.own
	if h == nil {
		h = make(http.Header, 4)
	}
	// What the app set has no place on the core's page (a HeaderSink's map
	// holds it).
	clear(h)
	h["Content-Type"] = []string{"text/plain"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	if w.origin && w.h.ServerSoftware != "" {
		h["Server"] = []string{w.h.ServerSoftware}
	}
	w.addRequestID(h)
	w.headSent = true
	if err := w.sink.WriteHead(w.status, h); err != nil {
		w.broken(err)
		return
	}
	if !w.isHead {
		if _, err := w.writeBody([]byte(body)); err != nil {
			return
		}
	}
	if err := w.sink.Finish(); err != nil {
		w.broken(err)
	}
}

// result reports the request's outcome; err is the run's error.
func (w *responseWriter) result(err error, body *countingReader) Result {
	w.done.Store(true)
	w.release() // a response that broke before its head went out
	if err == nil {
		err = w.err
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	return Result{Status: status, HeadSent: w.headSent, BytesIn: body.n.Load(), BytesOut: w.out, Err: err,
		incomplete: w.incomplete, Info: w.info}
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
)
