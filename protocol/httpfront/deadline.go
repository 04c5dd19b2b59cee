package httpfront

import (
	"net/http"
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
// connection never meets it. A deadline anyone else sets (an app, through
// http.ResponseController; net/http's hijack, which clears both) takes
// the connection's deadline from the pacer until the pacer is forced to
// move it again.
type connPacer struct {
	mu    sync.Mutex
	pace  writedeadline.Pacer
	owned bool // the connection's write deadline is the pacer's
}

// paceWrite moves the connection's write deadline when due; force moves
// it regardless.
func (c *watchConn) paceWrite(force bool) {
	c.wd.mu.Lock()
	if c.wd.pace.Extend(c.Conn, force) {
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
	return s.dl.SetWriteDeadline(t)
}

var _ handler.WriteDeadliner = (*sink)(nil)
