package fastcgi

import (
	"io"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// stdin handles an FCGI_STDIN record: the first one starts a request that
// came without CONTENT_LENGTH, the empty one ends the body, bytes past
// CONTENT_LENGTH fail the body read, and the rest goes where routeBody says.
func (c *conn) stdin(id uint16, n int) error {
	r := c.lookup(id)
	if r == nil || !r.paramsDone {
		if r != nil {
			c.logger().Debug("fastcgi: FCGI_STDIN before the end of FCGI_PARAMS; ignored", zap.Uint16("id", id))
		}
		return c.discard(n)
	}
	if r.waitStdin {
		r.waitStdin = false
		c.start(r, n > 0)
	}
	if n == 0 {
		r.stdin.end()
		return nil
	}
	if r.role == fcgiwire.RoleAuthorizer || r.stdinDone {
		return c.discard(n)
	}
	take := n
	if r.limit >= 0 && r.received+int64(n) > r.limit {
		take = int(r.limit - r.received)
		c.peerFault("fastcgi: FCGI_STDIN longer than CONTENT_LENGTH; the body read fails after it",
			zap.Int64("content_length", r.limit), zap.Uint16("id", id))
	}
	r.received += int64(take)
	if take > 0 {
		if err := c.routeBody(r, take); err != nil {
			return err
		}
	}
	if take < n {
		r.stdinDone = true
		r.stdin.fail(ErrBodyTooLong)
		return c.discard(n - take)
	}
	return nil
}

// routeBody moves n bytes of r's body from the connection to r's buffer, or to
// its spool file when the buffer is full and other requests must go on.
func (c *conn) routeBody(r *request, n int) error {
	b := &r.stdin
	for {
		state := b.state(n, c.srv.lim.bodyBuffer)
		switch state {
		case bodyDiscard:
			return c.discard(n)
		case bodyMemory:
			chunk := make([]byte, n)
			if _, err := io.ReadFull(c.br, chunk); err != nil {
				return unexpected(err)
			}
			b.push(chunk)
			return nil
		}
		if c.mayWait(r) {
			// Only this request is on the connection and no other can
			// come: wait for the app, as a plain socket would.
			select {
			case <-b.room:
			case <-c.done:
				return errConnClosed
			}
			// The wait was the app's, not the web server's.
			c.armDeadline(true)
			continue
		}
		chunk, err := c.content(n)
		if err != nil {
			return err
		}
		if err := b.spool(chunk, c.srv); err != nil {
			c.logger().Warn("fastcgi: request body spool failed; the body read fails", zap.Error(err),
				zap.Uint16("id", r.id))
		}
		return nil
	}
}

// mayWait reports whether the reader may wait for r's app to read its body:
// r is the connection's only request, and no other can come on it.
func (c *conn) mayWait(r *request) bool {
	if r.keep && c.srv.lim.maxReqs > 1 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs) == 1
}
