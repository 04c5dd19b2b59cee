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
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/linger"
	"github.com/gatewayd/gatewayd/internal/sockaddr"
	"github.com/gatewayd/gatewayd/protocol/internal/writedeadline"
)

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
	st.out = deadlineWriter{c: c, pace: writedeadline.Pacer{Timeout: s.writeTimeout()}}
	res := s.Handler.Serve(ctx, &st.req, &st.out)
	if res.Incomplete() || (res.Err != nil && isTimeout(res.Err)) {
		msg := "scgi: response cut short; resetting the connection"
		if isTimeout(res.Err) {
			msg = "scgi: the peer read nothing within write_timeout; resetting the connection"
		}
		s.log().Warn(msg, zap.String("remote", sockaddr.Peer(c.RemoteAddr())), zap.Int("status", res.Status),
			zap.Int64("bytes_out", res.BytesOut), zap.Error(res.Err))
		reset(c)
		return
	}
	s.closeClean(c, body, timeout)
}

// refuse logs why a head was refused and closes the connection without an
// answer.
func (s *Server) refuse(c net.Conn, err error) {
	defer c.Close()
	switch {
	case err == io.EOF:
		// Connected and left without a byte: a health check.
		s.log().Debug("scgi: connection closed before a request", zap.String("remote", sockaddr.Peer(c.RemoteAddr())))
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		if ok, n := s.badInput.Allow(time.Now()); ok {
			s.log().Warn("scgi: timed out reading the request head; closing",
				zap.String("remote", sockaddr.Peer(c.RemoteAddr())), zap.Duration("read_timeout", s.readTimeout()),
				zap.Int64("suppressed", n))
		}
		return
	}
	if ok, n := s.badInput.Allow(time.Now()); ok {
		s.log().Warn("scgi: bad request head; closing", zap.String("remote", sockaddr.Peer(c.RemoteAddr())), zap.Error(err),
			zap.Int64("suppressed", n))
	}
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
// response; it runs outside MaxConns (startDrain).
func (s *Server) closeClean(c net.Conn, body *bodyReader, timeout time.Duration) {
	if body.n <= 0 || body.err != nil || !s.startDrain(c) {
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

// deadlineWriter bounds each write of the response by WriteTimeout: the
// peer must read within it.
type deadlineWriter struct {
	c    net.Conn
	pace writedeadline.Pacer // negative Timeout: no limit
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.pace.Extend(w.c, false)
	return w.c.Write(p)
}

// SetWriteDeadline lets an app cut a response whose client stopped reading
// (through the core's http.ResponseController support), as the CGI runner
// does when it stops a script. It may be called while a write blocks.
func (w *deadlineWriter) SetWriteDeadline(t time.Time) error { return w.c.SetWriteDeadline(t) }

var _ handler.WriteDeadliner = (*deadlineWriter)(nil)

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
