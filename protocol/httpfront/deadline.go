package httpfront

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/protocol/internal/writedeadline"
)

// connPacer paces a connection's write deadline across its requests
// (writedeadline.Pacer). net/http clears the write deadline after every
// response; while the pacer owns the deadline, that clearing is ignored,
// so a keep-alive connection moves its deadline once every quarter of
// WriteTimeout instead of twice per response (a timer added, then
// deleted). The deadline is at least three quarters of WriteTimeout ahead
// of every write of a response and of every read (after which net/http
// may answer an error itself); it bounds only writes, so an idle
// connection never meets it. A deadline anyone else sets takes the
// connection's deadline from the pacer: net/http's hijack clears both; an
// app's (through http.ResponseController, a zero one meaning none
// included) reaches the connection and holds until its response ends,
// when the pacer is forced to move the deadline again, or until a write
// of the response finds a quarter of WriteTimeout gone since the pacer
// last moved it (as it always was within a response).
type connPacer struct {
	mu    sync.Mutex
	pace  writedeadline.Pacer
	owned bool // the connection's write deadline is the pacer's
	app   bool // an app set the deadline during the current response
}

// paceWrite moves the connection's write deadline when due; force moves
// it regardless and ends an app's hold on it. Outside a forced move, an
// app's deadline stays until a quarter of WriteTimeout has passed since
// the pacer last moved it, as a response's writes always had it.
func (c *watchConn) paceWrite(force bool) {
	c.wd.mu.Lock()
	if c.wd.pace.Extend(c.Conn, force) {
		c.wd.owned, c.wd.app = true, false
	}
	c.wd.mu.Unlock()
}

// paceRead is paceWrite after a read, which leaves an app's deadline
// alone: a read is not a write of the app's response.
func (c *watchConn) paceRead() {
	c.wd.mu.Lock()
	if !c.wd.app && c.wd.pace.Extend(c.Conn, false) {
		c.wd.owned = true
	}
	c.wd.mu.Unlock()
}

// SetWriteDeadline is net/http's (the clearing after each response, an
// app's deadline through the ResponseWriter): see connPacer.
func (c *watchConn) SetWriteDeadline(t time.Time) error {
	c.wd.mu.Lock()
	defer c.wd.mu.Unlock()
	if t.IsZero() && c.wd.owned {
		return nil
	}
	c.wd.owned = false
	return c.Conn.SetWriteDeadline(t)
}

// setAppWriteDeadline is an app's deadline (http.ResponseController): it
// always reaches the connection, a zero one (no deadline) included, and
// the pacer leaves it alone until the response ends (see sink.extend).
func (c *watchConn) setAppWriteDeadline(t time.Time) error {
	c.wd.mu.Lock()
	defer c.wd.mu.Unlock()
	c.wd.owned, c.wd.app = false, true
	return c.Conn.SetWriteDeadline(t)
}

// continueBody moves the connection's write deadline, when due, before its
// first read, at which net/http answers "100 Continue".
type continueBody struct {
	io.ReadCloser
	wc   *watchConn
	read bool
}

func (b *continueBody) Read(p []byte) (int, error) {
	if !b.read {
		b.read = true
		b.wc.paceWrite(false)
	}
	return b.ReadCloser.Read(p)
}

// expectsContinue reports whether net/http will answer r's body's first
// read with "100 Continue".
func expectsContinue(r *http.Request) bool {
	if !r.ProtoAtLeast(1, 1) || r.ContentLength == 0 {
		return false
	}
	for _, v := range r.Header["Expect"] {
		if strings.EqualFold(strings.TrimSpace(v), "100-continue") {
			return true
		}
	}
	return false
}

// SetDeadline sets both deadlines (net/http's hijack clears them): the
// write deadline is no longer the pacer's.
func (c *watchConn) SetDeadline(t time.Time) error {
	c.wd.mu.Lock()
	c.wd.owned = false
	c.wd.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

// SetWriteDeadline lets an app cut a response whose client stopped reading
// (through the core's http.ResponseController support).
func (s *sink) SetWriteDeadline(t time.Time) error {
	if s.dl == nil {
		return http.ErrNotSupported
	}
	s.appDeadline.Store(true)
	if s.wc != nil {
		return s.wc.setAppWriteDeadline(t)
	}
	return s.dl.SetWriteDeadline(t)
}

var _ handler.WriteDeadliner = (*sink)(nil)
