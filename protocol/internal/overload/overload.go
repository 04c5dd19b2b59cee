// Package overload is what the front ends share about their listener's
// max_conns: which connection is served, answered or dropped (Admit), how
// many may be answered at once (an answer takes a goroutine and, with the
// lingering close, up to internal/linger's bound), the answer itself for
// the front ends that send it before reading a request (Answer), the
// bound of connections draining outside max_conns (MayDrain), and the
// warning that says connections are refused, at most one line per
// interval (Log).
package overload

import (
	"io"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/internal/linger"
	"github.com/gatewayd/gatewayd/internal/lograte"
	"github.com/gatewayd/gatewayd/internal/sockaddr"
)

// MaxAnswering bounds the connections over max_conns being answered
// (FastCGI's FCGI_OVERLOADED, SCGI's and HTTP's 503) at once; beyond it
// they are closed without an answer.
const MaxAnswering = 64

// Decision is what becomes of a connection just accepted.
type Decision int

const (
	Serve  Decision = iota // within max_conns
	Refuse                 // over it: answered overloaded, then closed
	Drop                   // over it, with MaxAnswering answers under way: closed at once
)

// Admit decides for a connection just accepted, given how many are served
// and how many are being answered overloaded now; the caller counts the
// connection as it was decided.
func Admit(served, answering, maxConns int) Decision {
	switch {
	case served < maxConns:
		return Serve
	case answering < MaxAnswering:
		return Refuse
	}
	return Drop
}

// MayDrain reports whether one more connection may drain before its close
// outside max_conns: its answers are complete, and it only waits for the
// peer to close (a lingering close, or a web server that keeps a finished
// connection open a while). Counted as served, such connections made
// nginx's busy connections get FCGI_OVERLOADED (502s at 256 clients).
// They have a bound of their own, as many again as max_conns; past it the
// connection is closed at once.
func MayDrain(draining, maxConns int) bool { return draining < maxConns }

// Answer sends answer, the whole response to a connection over max_conns,
// once the peer's request begins, and closes the connection with a
// lingering close bounded by linger's Timeout, or max when shorter and
// positive. An answer written before the peer sent anything would be one
// to no request: Go's http.Transport, for one, drops a connection that
// speaks first ("readLoopPeekFailLocked") without reading it. A peer that
// sends nothing within linger.Timeout is closed without an answer.
func Answer(c net.Conn, answer string, max time.Duration) {
	deadline := time.Now().Add(linger.Timeout)
	_ = c.SetReadDeadline(deadline)
	var first [512]byte
	if _, err := c.Read(first[:]); err != nil {
		_ = c.Close()
		return
	}
	_ = c.SetWriteDeadline(deadline)
	if _, err := io.WriteString(c, answer); err != nil {
		_ = c.Close()
		return
	}
	linger.Close(c, c, max)
}

// Log writes the warning for connections over max_conns: a peer that opens
// connections in a loop must not fill the log, so one line per interval
// goes out, with a count of the ones held back; metrics count every one.
// The zero value is ready to use; it is safe for concurrent use.
type Log struct{ limit lograte.Limiter }

// Refused logs msg for a connection from remote over maxConns, unless a
// line went out within the interval.
func (l *Log) Refused(log *zap.Logger, msg string, maxConns int, remote net.Addr) {
	if ok, n := l.limit.Allow(time.Now()); ok {
		log.Warn(msg, zap.Int("max_conns", maxConns), zap.String("remote", sockaddr.Peer(remote)),
			zap.Int64("suppressed", n))
	}
}
