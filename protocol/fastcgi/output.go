package fastcgi

import (
	"context"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/internal/fcgiwire"
	"github.com/gatewayd/gatewayd/internal/linger"
)

const (
	// maxPending bounds the output waiting for the connection's writer;
	// writers of STDOUT and STDERR wait beyond it.
	maxPending = 256 << 10
	// kickAt is how much queued output wakes writeLoop; less waits for
	// the request's end or the app's flush.
	kickAt = 4 << 10
	// keepOutCap is the largest output buffer kept for reuse.
	keepOutCap = 1 << 20
)

// writeLoop writes queued output when kicked: the output of a response
// too large to hold back, management records, a close. A request's own end
// goes out from its goroutine (finish), so that a small response's STDOUT,
// its end of stream and its FCGI_END_REQUEST go out in one write without a
// hand-off to this goroutine; whichever writes takes everything queued, so
// that the responses of concurrent requests share writes.
func (c *conn) writeLoop() {
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		c.mu.Lock()
		c.flushLocked()
		c.mu.Unlock()
	}
}

// flushLocked writes what is queued until nothing is, or returns at once
// when another goroutine is writing: that one writes it too. Once nothing
// is queued and the connection is closing, it closes it. c.mu is held on
// entry and on return, not during a write.
func (c *conn) flushLocked() {
	if c.writing {
		return
	}
	c.writing = true
	defer func() { c.writing = false }()
	for {
		if len(c.out) == 0 || c.werr != nil {
			if c.closing && c.werr == nil {
				c.werr = errConnClosed
				c.room.Broadcast()
				c.mu.Unlock()
				c.linger()
				c.mu.Lock()
			}
			return
		}
		buf := c.out
		c.out, c.spare = c.spare[:0], nil
		c.room.Broadcast()
		c.mu.Unlock()

		c.wpace.Extend(c.rwc, false)
		_, err := c.rwc.Write(buf)

		c.mu.Lock()
		if cap(buf) <= keepOutCap {
			c.spare = buf[:0]
		}
		if err != nil && c.werr == nil {
			c.werr = err
			c.room.Broadcast()
			c.mu.Unlock()
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				c.logger().Warn("fastcgi: the web server read no output within write_timeout; closing connection",
					zap.Duration("write_timeout", c.wpace.Timeout))
			} else {
				c.logger().Debug("fastcgi: connection write failed", zap.Error(err))
			}
			c.rwc.Close()
			c.mu.Lock()
			return
		}
	}
}

// linger ends a connection whose answers are all written. The web server
// may still be sending a body the app did not read (nginx without
// fastcgi_keep_conn goes on sending FCGI_STDIN after the response); closing
// now would reset the connection and destroy the answer. So the write side
// is shut, which tells the web server the answers are complete, and the
// reading goroutine goes on discarding records until the web server closes
// or the drain's deadline passes; then it closes the connection.
func (c *conn) linger() {
	if !c.srv.startLinger(c) {
		c.rwc.Close()
		return
	}
	deadline, ok := linger.Start(c.rwc, c.srv.lim.readTimeout)
	if !ok {
		c.rwc.Close()
		return
	}
	c.lingerUntil.Store(deadline.UnixNano())
}

// output queues p as records of type t for r.
func (c *conn) output(r *request, t fcgiwire.Type, p []byte) (int, error) {
	n := 0
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(p) > 0 {
		for {
			if c.werr != nil || c.closing {
				return n, errConnClosed
			}
			if r.aborted.Load() {
				return n, context.Canceled
			}
			if len(c.out) < maxPending {
				break
			}
			c.room.Wait()
		}
		k := min(len(p), fcgiwire.MaxChunk)
		c.out = fcgiwire.AppendRecord(c.out, t, r.id, p[:k])
		p = p[k:]
		n += k
		// A small STDOUT write is the core's last (the request's end
		// follows, and finish writes both) or a flush (the stream's Flush
		// writes it); STDERR lines and large output go now.
		if t != fcgiwire.TypeStdout || len(c.out) >= kickAt {
			c.kick()
		}
	}
	return n, nil
}

// reply queues a record from the reading goroutine (management answers,
// refusals). It waits while more than maxPending is queued, up to
// WriteTimeout: a web server that floods requests and reads no answers loses
// its connection.
func (c *conn) reply(fn func([]byte) []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.out) >= maxPending {
		stop := time.AfterFunc(c.srv.lim.writeTimeout, func() {
			c.mu.Lock()
			if c.werr == nil {
				c.werr = &protocolError{"the web server reads no answers"}
			}
			c.room.Broadcast()
			c.mu.Unlock()
		})
		for len(c.out) >= maxPending && c.werr == nil && !c.closing {
			c.room.Wait()
		}
		stop.Stop()
	}
	if c.werr != nil {
		return c.werr
	}
	if c.closing {
		return errConnClosed
	}
	c.out = fn(c.out)
	c.kick()
	return nil
}

// endLocked appends r's FCGI_END_REQUEST and, when r did not ask to keep the
// connection or the server is draining an idle one, marks it for closing.
// c.mu is held.
func (c *conn) endLocked(b []byte, r *request, appStatus uint32) []byte {
	b = fcgiwire.AppendEndRequest(b, r.id, appStatus, fcgiwire.RequestComplete)
	if !r.keep || (c.draining && len(c.reqs) == 0) {
		c.closing = true
	}
	return b
}
