package httpfront

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/linger"
	"github.com/gatewayd/gatewayd/internal/rawio"
	"github.com/gatewayd/gatewayd/protocol/internal/overload"
)

// This file holds what the HTTP front end refuses or ends before a request
// reaches the core, where net/http lets it through:
//
//   - Transfer-Encoding (RFC 9112 §6.1): a request with both
//     Transfer-Encoding and Content-Length may be an attempt at request
//     smuggling, and the connection MUST be closed after the response; so
//     must one with Transfer-Encoding on HTTP/1.0, whose framing is faulty.
//     net/http drops Content-Length from a chunked request and drops
//     Transfer-Encoding from an HTTP/1.0 one before a handler sees them, so
//     the connection itself watches its bytes for a Transfer-Encoding
//     field, and a response on a connection that carried one closes it.
//     A chunked upload thus costs its connection; a false alarm (the words
//     at the start of a line in a body) costs only keep-alive.
//   - CONNECT asks for a tunnel, which a gateway does not make: 501.
//   - The asterisk-form target is for OPTIONS only (RFC 9112 §3.2.4): any
//     other method with "*" is 400. net/http answers "OPTIONS *" itself,
//     200 with an empty body, without the app.
//   - max_header_bytes is exact: net/http lets 4096 bytes more through.
//   - closing with unread input drains it first (see CloseWrite).

// teField is what a Transfer-Encoding header line starts with, after the
// line feed, in lower case.
const teField = "transfer-encoding:"

// watchConn is an accepted connection that notes whether a
// Transfer-Encoding field went through it.
type watchConn struct {
	net.Conn
	sawTE   atomic.Bool
	tail    [len(teField)]byte // the end of the last read, for a field split between reads
	tailLen int
	unread  atomic.Bool // the last request's body was not read to its end
	closing atomic.Bool
	// idleSince is when the connection began waiting for a request, its
	// first or its next (Unix nanoseconds), 0 while it is reading or
	// serving one.
	idleSince atomic.Int64
	local     environ.Local // the local address, split once for all its requests
	wd        connPacer     // the write deadline, paced across requests (deadline.go)
}

func (c *watchConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if !c.sawTE.Load() {
			c.scan(p[:n])
		}
		// What net/http writes on its own after a read (an error answer, 100
		// Continue) finds a deadline well ahead, not one that passed while
		// the connection was idle.
		c.paceRead()
	}
	return n, err
}

// scan looks for "\nTransfer-Encoding:" in any letter case, without an
// allocation: the seam between two reads is checked in a buffer on the
// stack.
func (c *watchConn) scan(b []byte) {
	if c.tailLen > 0 {
		var seam [2 * len(teField)]byte
		n := copy(seam[:], c.tail[:c.tailLen])
		n += copy(seam[n:], b[:min(len(b), len(teField))])
		if hasTE(seam[:n]) {
			c.sawTE.Store(true)
			return
		}
	}
	if hasTE(b) {
		c.sawTE.Store(true)
		return
	}
	// Keep the last len(teField) bytes of the stream, which may span
	// several short reads.
	if len(b) >= len(teField) {
		c.tailLen = copy(c.tail[:], b[len(b)-len(teField):])
		return
	}
	keep := min(c.tailLen, len(teField)-len(b))
	copy(c.tail[:], c.tail[c.tailLen-keep:c.tailLen])
	c.tailLen = keep + copy(c.tail[keep:], b)
}

func hasTE(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return false
		}
		b = b[i+1:]
		if len(b) >= len(teField) && bytes.EqualFold(b[:len(teField)], []byte(teField)) {
			return true
		}
	}
}

// CloseWrite is where net/http starts its close of a connection that still
// has unread input (a request body the app left, a head over
// max_header_bytes). net/http then only waits 500 ms before closing, reading
// nothing; a peer still sending fills the receive queue meanwhile, the close
// becomes a reset, and nginx answers 502 ("writev() failed (104: Connection
// reset by peer) while sending request to upstream") to most 1 MiB uploads an
// app refuses. So the write side is shut and what the peer still sends is
// read and dropped until it closes or internal/linger's bound passes: the
// lingering close every front end shares.
func (c *watchConn) CloseWrite() error {
	if _, ok := linger.Start(c.Conn, 0); !ok {
		return nil
	}
	_, _ = io.Copy(io.Discard, c.Conn)
	return nil
}

// Close ends the connection with a lingering close when the last request
// left body bytes unread. net/http closes such a connection at once when the
// request asked for the close (HTTP/1.0, which nginx's proxy_pass speaks by
// default, or "Connection: close"): the unread bytes then reset it, and the
// peer may lose the response. The drain runs on a goroutine of its own,
// bounded by internal/linger, so that a Close from Shutdown never waits.
func (c *watchConn) Close() error {
	if c.unread.Load() && c.closing.CompareAndSwap(false, true) {
		if _, ok := linger.Start(c.Conn, 0); ok {
			go func() {
				_, _ = io.Copy(io.Discard, c.Conn)
				_ = c.Conn.Close()
			}()
			return nil
		}
	}
	return c.Conn.Close()
}

// ReadFrom keeps what net/http finds on a *net.TCPConn or *net.UnixConn:
// sendfile for static files.
func (c *watchConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// watchListener admits each accepted connection within the server's
// MaxConns (limit.go) and wraps it in a watchConn whose writes are paced
// by the server's WriteTimeout (none when it is negative).
type watchListener struct {
	net.Listener
	s *Server
}

func (l watchListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		wc := &watchConn{Conn: rawio.Wrap(c)}
		// Waiting for its first request counts as idle, as in nginx: a
		// connection opened and left silent makes room first.
		wc.idleSince.Store(time.Now().UnixNano())
		switch l.s.admit(wc) {
		case overload.Refuse:
			l.s.refuseConn(c, true)
			go l.s.answerOverloaded(c)
			continue
		case overload.Drop:
			l.s.refuseConn(c, false)
			_ = c.Close()
			continue
		}
		wc.local = environ.SplitLocal(c.LocalAddr())
		wc.wd.pace.Timeout = l.s.writeTimeout()
		return wc, nil
	}
}

type connKey struct{}

// withConn puts the connection in the context of its requests.
func withConn(ctx context.Context, c net.Conn) context.Context {
	if wc, ok := c.(*watchConn); ok {
		return context.WithValue(ctx, connKey{}, wc)
	}
	return ctx
}

// refusal is a request the front end answers itself.
type refusal struct {
	status int
	text   string
}

// connOf is the watched connection r arrived on, or nil.
func connOf(r *http.Request) *watchConn {
	wc, _ := r.Context().Value(connKey{}).(*watchConn)
	return wc
}

// check says whether r is refused and whether its connection must close
// after the response.
func (s *Server) check(r *http.Request) (refused *refusal, closeConn bool) {
	if wc := connOf(r); wc != nil && wc.sawTE.Load() {
		closeConn = true
	}
	if len(r.TransferEncoding) > 0 {
		closeConn = true
	}
	switch {
	case r.Method == http.MethodConnect:
		return &refusal{http.StatusNotImplemented, "CONNECT is not supported: gatewayd is not a proxy\n"}, true
	case r.RequestURI == "*" && r.Method != http.MethodOptions:
		return &refusal{http.StatusBadRequest, "the target * is for OPTIONS only\n"}, true
	case headSize(r) > s.maxHeaderBytes():
		return &refusal{http.StatusRequestHeaderFieldsTooLarge, "431 Request Header Fields Too Large\n"}, true
	}
	return nil, closeConn
}

// headSize is the size of r's head as sent in its canonical spelling:
// request line, "Name: value" lines, the blank line. net/http keeps no count
// of the bytes; this one equals it for a head written the usual way and
// differs only by optional whitespace otherwise.
func headSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	if len(r.TransferEncoding) > 0 {
		n += len("Transfer-Encoding: chunked\r\n")
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}

// refuse answers r with the front end's own status and closes the
// connection after it.
func refuse(w http.ResponseWriter, rf *refusal) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Connection", "close")
	w.WriteHeader(rf.status)
	io.WriteString(w, rf.text)
}
