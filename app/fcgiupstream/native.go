// The native transport: one request's exchange with the upstream, from the
// single write of BEGIN_REQUEST, PARAMS and a small body to END_REQUEST. It
// is one file (over 400 lines) on purpose: the exchange is one state
// machine over one read buffer, and splitting it would put the reads of a
// record and what they mean in different places.

package fcgiupstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatewayd/gatewayd/core/cgiresp"
	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
	"github.com/gatewayd/gatewayd/internal/stderrlog"
)

const (
	// readBufSize is each native connection's read buffer: a response of a
	// few KiB and its FCGI_END_REQUEST come in one read.
	readBufSize = 16 << 10
	// smallBody is the largest request body that goes out in the request's
	// one write; a larger one is streamed by a second goroutine.
	smallBody = 32 << 10
	// maxHeadBytes bounds the upstream's response head, for both
	// transports: the CGI runner's default max_header_bytes.
	maxHeadBytes = cgiresp.DefaultMaxHeadBytes
	// holdBody is how much of the body is held back with the head, so that
	// an upstream that breaks off early gets the client a 502, not a
	// cut-off 200.
	holdBody = 16 << 10
	// flushDelay is how long the upstream's output may pause before what
	// was written is pushed to the client (the CGI runner's rule): a script
	// that writes in bursts streams, while one that answers at once still
	// gets a Content-Length.
	flushDelay = 10 * time.Millisecond
	// requestID is the id of every request: one at a time per connection.
	requestID = 1
)

var (
	errHeadTooLarge = protocolError("response head over " + strconv.Itoa(maxHeadBytes) + " bytes")
	errRequestID    = protocolError("unexpected FastCGI request id")
	errRecordType   = protocolError("unexpected record type")
	errNoEnd        = protocolError("connection closed before FCGI_END_REQUEST")
)

// protocolError is ErrProtocol with what broke it. Not fmt.Errorf: these
// are made at package initialisation, which every gatewayd-cgi start pays.
type protocolError string

func (e protocolError) Error() string { return ErrProtocol.Error() + ": " + string(e) }
func (e protocolError) Unwrap() error { return ErrProtocol }

// reqBufs holds the buffers requests are encoded into.
var reqBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// wireRequest is a request encoded for the upstream: BEGIN_REQUEST, the
// parameters and, when the body is small, all of FCGI_STDIN, so that it
// goes out in one write and can be sent again as it is. A larger body is
// rest, streamed after buf.
type wireRequest struct {
	buf     *[]byte
	whole   bool // buf ends the FCGI_STDIN stream
	rest    io.Reader
	restLen int64
}

func (wr *wireRequest) release() {
	if wr.buf != nil && cap(*wr.buf) <= 256<<10 {
		*wr.buf = (*wr.buf)[:0]
		reqBufs.Put(wr.buf)
	}
	wr.buf = nil
}

// encode builds the request: ps's parameters and a body of n bytes (-1: no
// body). A small body is read here, before a connection is taken; one that
// ends early is errShortBody.
func (u *Upstream) encode(ps *paramSet, body io.Reader, n int64) (wireRequest, error) {
	bp := reqBufs.Get().(*[]byte)
	b := fcgiwire.AppendBeginRequest((*bp)[:0], requestID, fcgiwire.RoleResponder, u.beginFlags)
	b, mark := fcgiwire.OpenStream(b)
	b = ps.Append(b)
	b = fcgiwire.CloseStream(b, mark, fcgiwire.TypeParams, requestID)
	wr := wireRequest{buf: bp}
	switch {
	case body == nil || n <= 0:
		b = fcgiwire.AppendRecord(b, fcgiwire.TypeStdin, requestID, nil)
		wr.whole = true
	case n <= smallBody:
		b, mark = fcgiwire.OpenStream(b)
		start := len(b)
		b = append(b, make([]byte, n)...)
		if _, err := io.ReadFull(body, b[start:]); err != nil {
			*bp = b
			wr.release()
			return wireRequest{}, fmt.Errorf("%w: %w", errShortBody, err)
		}
		b = fcgiwire.CloseStream(b, mark, fcgiwire.TypeStdin, requestID)
		wr.whole = true
	default:
		wr.rest, wr.restLen = body, n
	}
	*bp = b
	return wr, nil
}

var errShortBody = errors.New("fcgiupstream: reading the request body")

// nativeReader is what a native connection's bufio.Reader reads from. It
// keeps the read deadline coarse: armed for the whole timeout, renewed at
// most every eighth of it, so the silence that fails a request is between
// 7/8 of UpstreamTimeout and all of it. A deadline that passes while the
// body writer is still making progress, or that was the short flush timer,
// is not the upstream's silence: the read goes on. It runs in the request's
// goroutine only.
//
// It also starts the watch for the client going away (see watchDelay):
// until the request has run that long, the deadline is the watch's, and
// when it passes the watch begins and the read goes on.
type nativeReader struct {
	c       *upstreamConn
	armed   time.Time // when the long deadline was set
	flushAt bool      // the deadline is the flush timer
	ex      *nativeExchange

	ctx      context.Context // the request's, watched from watchBy on
	watchBy  time.Time
	watchSet bool        // the deadline is watchBy
	stop     func() bool // ends the watch; nil until it began
	reads    int         // reads from the socket, for tests
}

// watchDelay is how long a request to the upstream runs before it watches
// its client: from then on, the client going away (the request's context
// ending) closes the upstream connection, which stops the read, and the
// body writer's write, in flight. Watching costs context.AfterFunc on the
// request's context, which makes the context's cancellation and hangs on
// its parent's: ten allocations, a kilobyte and four locks, a tenth of what
// the rest of the exchange costs. A request answered sooner pays one read
// deadline instead, and one waiting for a connection nothing (the queue
// looks at the context as often). The price is that a client that goes
// away is noticed up to watchDelay later. The watch begins in a read: the
// request's first write (parameters and a body of at most smallBody,
// which the socket's buffer takes) is not watched.
const watchDelay = 50 * time.Millisecond

// startWatch readies the watch for one exchange.
func (r *nativeReader) startWatch(ctx context.Context, now time.Time) {
	// Never later than the silence that fails the request.
	delay := min(watchDelay, r.c.timeout)
	r.ctx, r.watchBy, r.watchSet, r.stop = ctx, now.Add(delay), false, nil
}

// watch begins watching the client.
func (r *nativeReader) watch() {
	if r.stop == nil {
		r.stop = context.AfterFunc(r.ctx, r.c.closeFn)
	}
}

// endWatch ends the exchange's watch and reports whether the connection is
// intact: the watch did not close it.
func (r *nativeReader) endWatch() bool {
	stop := r.stop
	r.ctx, r.stop, r.watchSet = nil, nil, false
	// The long deadline is re-armed by the next exchange's watch.
	r.armed = time.Time{}
	return stop == nil || stop()
}

func (r *nativeReader) Read(p []byte) (int, error) {
	c := r.c
	for {
		now := time.Now()
		if r.stop == nil && r.ctx != nil && !now.Before(r.watchBy) {
			r.watch()
			r.watchSet = false
		}
		switch {
		case r.flushAt:
		case r.stop == nil && r.ctx != nil:
			if !r.watchSet {
				_ = c.Conn.SetReadDeadline(r.watchBy)
				r.watchSet = true
			}
		case now.Sub(r.armed) > c.timeout/8:
			_ = c.Conn.SetReadDeadline(now.Add(c.timeout))
			r.armed = now
		}
		n, err := c.Conn.Read(p)
		r.reads++
		if r.flushAt && (n > 0 || err == nil) {
			// Data came before the pause ended: back to the watch's or
			// the long deadline, whichever is due (the flush timer is
			// still the socket's).
			r.flushAt = false
			r.armed = time.Time{}
			r.watchSet = false
		}
		if n > 0 || err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		now = time.Now()
		switch {
		case r.flushAt:
			r.flushAt = false
			r.armed = time.Time{}
			r.watchSet = false
			if r.ex != nil {
				r.ex.pause()
			}
		case r.stop == nil && r.ctx != nil:
			// The watch's deadline: the watch begins, the read goes on.
		case now.UnixNano()-c.lastWrite.Load() < int64(c.timeout):
			// The upstream took part of the body lately: silence counts
			// from then.
			_ = c.Conn.SetReadDeadline(time.Unix(0, c.lastWrite.Load()).Add(c.timeout))
			r.armed = now
		default:
			return n, err
		}
	}
}

// armFlush makes the next read wait at most flushDelay before pause is
// called.
func (r *nativeReader) armFlush() {
	r.flushAt = true
	_ = r.c.Conn.SetReadDeadline(time.Now().Add(flushDelay))
}

// nativeExchange is one request on one connection of the native transport,
// run in the request's goroutine.
type nativeExchange struct {
	u   *Upstream
	c   *upstreamConn
	w   http.ResponseWriter
	r   *http.Request
	env environ.Env
	log *reqLog

	head      []byte // a head that spans records, collected
	headDone  bool
	status    int
	discard   bool   // the body is not sent (local redirect, 204, 304)
	redirect  string // a local redirect to serve
	flushEach bool   // text/event-stream or X-Accel-Buffering: no
	started   bool   // the head went to the client
	held      []byte // body held back with the head
	pending   bool   // written to the client since the last flush
	failed    bool   // writing to the client failed
	broke     bool   // the connection was closed under the body writer
	stderr    *stderrlog.Writer
	stdout    int64
}

// exchangeNative sends wr on c and relays the answer.
func (u *Upstream) exchangeNative(ctx context.Context, c *upstreamConn, w http.ResponseWriter, r *http.Request,
	env environ.Env, wr *wireRequest, log *reqLog) exchanged {
	c.ex = nativeExchange{u: u, c: c, w: w, r: r, env: env, log: log}
	ex := &c.ex
	c.nr.ex = ex
	defer func() { c.nr.ex, c.ex = nil, nativeExchange{} }()
	// The one way to stop a read or write in flight when the client goes
	// away: closing the connection, from watchDelay on.
	now := time.Now()
	c.nr.startWatch(ctx, now)

	var res exchanged
	c.lastWrite.Store(now.UnixNano())
	if now.Sub(c.writeArm) > c.timeout/8 {
		_ = c.Conn.SetWriteDeadline(now.Add(c.timeout))
		c.writeArm = now
	}
	_, werr := c.Conn.Write(*wr.buf)
	var bodyDone chan bodyResult
	if werr == nil && !wr.whole {
		bodyDone = make(chan bodyResult, 1)
		// The goroutine takes copies: wr itself stays on the caller's stack.
		rest, n := wr.rest, wr.restLen
		go func() { bodyDone <- c.sendBody(rest, n) }()
	}
	var err error
	var end fcgiwire.EndRequest
	if werr == nil {
		end, err = ex.read()
	}
	var body bodyResult
	if bodyDone != nil {
		if werr != nil || err != nil {
			body = closeUnderWriter(ex, bodyDone)
		} else {
			// The upstream answered. If it read the whole body first (as
			// php-fpm does), the writer's last write has already reached
			// the kernel and only its return is left: the connection is
			// whole, and closing it for want of a goroutine switch would
			// throw it away under load. An upstream that answered before
			// it took the body leaves the writer blocked: after
			// bodyGrace, the connection cannot carry another request.
			t := time.NewTimer(bodyGrace)
			select {
			case body = <-bodyDone:
			case <-t.C:
				body = closeUnderWriter(ex, bodyDone)
			}
			t.Stop()
		}
		if body.readErr != nil && err == nil {
			err = body.readErr
		}
	}
	intact := c.nr.endWatch()
	if ex.stderr != nil {
		ex.stderr.Flush()
	}
	res.bodyRead = body.n
	res.started = ex.started
	res.st.appStatus = end.AppStatus
	res.redirect = ex.redirect
	switch {
	case werr == nil && err == nil:
		if !ex.started && ex.redirect == "" {
			ex.start()
		}
		res.started = true
		res.outcome = OutcomeOK
		res.reusable = intact && !ex.failed && !ex.broke && body.err == nil && c.br.Buffered() == 0
		return res
	case ex.failed || r.Context().Err() != nil:
		res.outcome = OutcomeCanceled
		res.cause = context.Canceled
	case body.readErr != nil:
		res.outcome = OutcomeCanceled
		res.cause = body.readErr
	case isTimeout(err) || isTimeout(werr):
		res.outcome = OutcomeTimeout
		res.cause = fmt.Errorf("%w: nothing for %v", ErrTimeout, u.timeout)
	case werr != nil:
		res.outcome = OutcomeProtocol
		res.cause = fmt.Errorf("%w: sending the request: %w", ErrProtocol, werr)
		res.st.writeErr = werr
		res.stale = c.reused
	case errors.Is(err, ErrProtocol):
		res.outcome = OutcomeProtocol
		res.cause = err
	default:
		res.outcome = OutcomeProtocol
		res.cause = fmt.Errorf("%w (%w)", errNoEnd, err)
		res.st.readErr = err
		res.stale = c.reused && ex.stdout == 0 && !ex.started && ex.stderr == nil
	}
	return res
}

// read reads the answer up to FCGI_END_REQUEST and relays it.
func (ex *nativeExchange) read() (fcgiwire.EndRequest, error) {
	c := ex.c
	for {
		if c.br.Buffered() == 0 && !ex.failed && (ex.pending || (ex.headDone && !ex.started && ex.redirect == "")) {
			c.nr.armFlush()
		}
		h, content, err := c.rr.Next()
		if err != nil {
			if errors.Is(err, fcgiwire.ErrVersion) {
				return fcgiwire.EndRequest{}, fmt.Errorf("%w: bad record version", ErrProtocol)
			}
			return fcgiwire.EndRequest{}, err
		}
		if h.ID != requestID {
			return fcgiwire.EndRequest{}, fmt.Errorf("%w %d", errRequestID, h.ID)
		}
		switch h.Type {
		case fcgiwire.TypeStdout:
			ex.stdout += int64(len(content))
			if err := ex.output(content); err != nil {
				return fcgiwire.EndRequest{}, err
			}
		case fcgiwire.TypeStderr:
			if ex.stderr == nil {
				ex.stderr = stderrlog.New(ex.log.get(), "upstream stderr", nil)
			}
			_, _ = ex.stderr.Write(content)
		case fcgiwire.TypeEndRequest:
			end, err := fcgiwire.ParseEndRequest(content)
			if err != nil {
				return end, fmt.Errorf("%w: %w", ErrProtocol, err)
			}
			if end.ProtocolStatus != fcgiwire.RequestComplete {
				return end, fmt.Errorf("%w: FCGI_END_REQUEST protocol status %v", ErrProtocol, end.ProtocolStatus)
			}
			if !ex.headDone {
				if ex.stdout == 0 {
					return end, fmt.Errorf("%w: no response", ErrProtocol)
				}
				return end, fmt.Errorf("%w: %w", ErrProtocol, cgiresp.ErrHeadCut)
			}
			return end, nil
		default:
			return fcgiwire.EndRequest{}, fmt.Errorf("%w %v", errRecordType, h.Type)
		}
	}
}

// output takes FCGI_STDOUT content: the head first, parsed in place when
// one record holds it, then the body.
func (ex *nativeExchange) output(b []byte) error {
	if !ex.headDone {
		var headBytes []byte
		if ex.head == nil {
			if end := cgiresp.HeadEnd(b); end >= 0 {
				headBytes, b = b[:end], b[end:]
			}
		}
		if headBytes == nil {
			from := max(len(ex.head)-3, 0)
			ex.head = append(ex.head, b...)
			end := cgiresp.HeadEnd(ex.head[from:])
			if end < 0 {
				if len(ex.head) > maxHeadBytes {
					return errHeadTooLarge
				}
				return nil
			}
			end += from
			headBytes, b = ex.head[:end], ex.head[end:]
		}
		if len(headBytes) > maxHeadBytes {
			return errHeadTooLarge
		}
		if err := ex.startHead(headBytes); err != nil {
			return err
		}
	}
	if len(b) == 0 || ex.discard || ex.failed {
		return nil
	}
	if !ex.started {
		if len(ex.held)+len(b) <= holdBody && !ex.flushEach {
			if ex.held == nil {
				ex.held = ex.c.held()
			}
			ex.held = append(ex.held, b...)
			return nil
		}
		ex.start()
	}
	ex.send(b)
	return nil
}

// startHead takes the parsed head: the status, the fields to pass on, and
// whether this is a local redirect.
func (ex *nativeExchange) startHead(b []byte) error {
	hdr := ex.w.Header()
	// Parsed straight into the ResponseWriter's map when that is empty (it
	// is, unless something before the upstream set a header): no map of
	// the head's own, no copy. Otherwise the head's fields replace what
	// was there, as a copy from a map of their own does.
	into := len(hdr) == 0
	var h cgiresp.Head
	var err error
	if into {
		h, err = cgiresp.ParseInto(b, hdr)
	} else {
		h, err = cgiresp.Parse(b)
	}
	if err != nil {
		if into {
			clear(hdr) // the 502 page must not carry the upstream's fields
		}
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	ex.headDone = true
	ex.head = nil
	if h.IsLocalRedirect() && ex.u.Redirect != nil && ex.u.maxRedirects > 0 {
		if into {
			clear(hdr) // the redirect's target answers with its own
		}
		ex.redirect = h.Location
		ex.discard = true
		return nil
	}
	status := h.Status
	switch {
	case h.Location != "" && status == 0:
		status = http.StatusFound
	case h.Location == "" && status == 0 && !h.HasType:
		if into {
			clear(hdr)
		}
		return fmt.Errorf("%w: response has no Content-Type (nor Status or Location)", ErrProtocol)
	case status == 0:
		status = http.StatusOK
	}
	ex.status = status
	if status == http.StatusNoContent || status == http.StatusNotModified {
		ex.discard = true
	}
	for k, vs := range h.Header {
		switch {
		case environ.IsHopByHop(k):
			if into {
				delete(hdr, k)
			}
		case !into:
			hdr[k] = vs
		}
	}
	ex.flushEach = streams(hdr)
	// The upstream's word to the gateway, of no use to the client.
	delete(hdr, "X-Accel-Buffering")
	return nil
}

// streams reports whether every chunk of the response is pushed to the
// client at once: text/event-stream, or X-Accel-Buffering: no (nginx's
// word for it).
func streams(hdr http.Header) bool {
	each := false
	if v := hdr["X-Accel-Buffering"]; len(v) > 0 {
		each = strings.EqualFold(v[0], "no")
	}
	if ct := hdr["Content-Type"]; len(ct) > 0 {
		mt, _, _ := strings.Cut(ct[0], ";")
		each = each || strings.EqualFold(strings.TrimSpace(mt), "text/event-stream")
	}
	return each
}

// start sends the head and what was held back.
func (ex *nativeExchange) start() {
	ex.started = true
	if ex.status == 0 {
		ex.status = http.StatusOK
	}
	ex.w.WriteHeader(ex.status)
	ex.pending = true
	if len(ex.held) > 0 {
		ex.send(ex.held)
	}
	ex.held = nil
	if ex.flushEach {
		ex.flush()
	}
}

func (ex *nativeExchange) send(p []byte) {
	if ex.failed {
		return
	}
	if _, err := ex.w.Write(p); err != nil {
		ex.failed = true
		_ = ex.c.Conn.Close()
		return
	}
	ex.pending = true
	if ex.flushEach {
		ex.flush()
	}
}

// pause is called when the upstream's output pauses: the client gets what
// came so far.
func (ex *nativeExchange) pause() {
	if ex.failed || !ex.headDone || ex.redirect != "" {
		return
	}
	if !ex.started {
		ex.start()
	}
	ex.flush()
}

func (ex *nativeExchange) flush() {
	ex.pending = false
	if err := http.NewResponseController(ex.w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		ex.failed = true
		_ = ex.c.Conn.Close()
	}
}

// held returns the connection's buffer for body held back with the head.
func (c *upstreamConn) held() []byte {
	if c.hold == nil {
		c.hold = make([]byte, 0, holdBody)
	}
	return c.hold[:0]
}

// bodyResult is how streaming a large body went.
type bodyResult struct {
	n       int64 // bytes taken from the body
	err     error // the stream did not end cleanly
	readErr error // because the body could not be read (the client's fault)
}

// sendBody streams n bytes of body as FCGI_STDIN and ends the stream. It
// runs beside the reading of the answer, so that an upstream that answers
// before it reads its body cannot deadlock the exchange. A body that fails
// or ends short breaks the connection instead of ending the stream: the
// upstream must not run the script on a truncated body.
func (c *upstreamConn) sendBody(body io.Reader, n int64) bodyResult {
	bp := relayBufs.Get().(*[]byte)
	defer relayBufs.Put(bp)
	sw := fcgiwire.NewWriter(writeTracker{c}, fcgiwire.TypeStdin, requestID)
	var res bodyResult
	buf := *bp
	for res.n < n {
		k, err := body.Read(buf[:min(int64(len(buf)), n-res.n)])
		res.n += int64(k)
		if k > 0 {
			if _, werr := sw.Write(buf[:k]); werr != nil {
				res.err = werr
				return res
			}
		}
		if err == io.EOF && res.n < n {
			err = io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			res.err = err
			res.readErr = fmt.Errorf("%w: %w", errShortBody, err)
			_ = c.Conn.Close()
			return res
		}
	}
	res.err = sw.Close()
	return res
}

// bodyGrace is how long an exchange whose upstream has answered waits for
// the body writer to finish before it gives the connection up.
const bodyGrace = 100 * time.Millisecond

// closeUnderWriter closes the connection while the body writer may still
// be writing to it, which ends the writer's wait, and takes its result.
// The upstream did not take the whole body, or the exchange failed: the
// connection cannot carry another request.
func closeUnderWriter(ex *nativeExchange, bodyDone <-chan bodyResult) bodyResult {
	ex.broke = true
	_ = ex.c.Conn.Close()
	return <-bodyDone
}

// writeTracker writes to the upstream for the body writer, keeping the write
// deadline coarse and telling the reader that the upstream is reading.
type writeTracker struct{ c *upstreamConn }

func (t writeTracker) Write(p []byte) (int, error) {
	now := time.Now()
	t.c.lastWrite.Store(now.UnixNano())
	_ = t.c.Conn.SetWriteDeadline(now.Add(t.c.timeout))
	n, err := t.c.Conn.Write(p)
	t.c.lastWrite.Store(time.Now().UnixNano())
	return n, err
}
