// Package overload is what the front ends share about connections over
// their listener's max_conns: how many may be answered at once (an answer
// takes a goroutine and, with the lingering close, up to internal/linger's
// bound), and the warning that says it happens, at most one line per
// interval.
package overload

import (
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/internal/lograte"
)

// MaxAnswering bounds the connections over max_conns being answered
// (FastCGI's FCGI_OVERLOADED, SCGI's and HTTP's 503) at once; beyond it
// they are closed without an answer.
const MaxAnswering = 64

// Log writes the warning for connections over max_conns: a peer that opens
// connections in a loop must not fill the log, so one line per interval
// goes out, with a count of the ones held back; metrics count every one.
// The zero value is ready to use; it is safe for concurrent use.
type Log struct{ limit lograte.Limiter }

// Refused logs msg for a connection from remote over maxConns, unless a
// line went out within the interval.
func (l *Log) Refused(log *zap.Logger, msg string, maxConns int, remote net.Addr) {
	if ok, n := l.limit.Allow(time.Now()); ok {
		log.Warn(msg, zap.Int("max_conns", maxConns), zap.String("remote", name(remote)),
			zap.Int64("suppressed", n))
	}
}

// name is how the line names a peer: its address, or "unix" for an
// unnamed unix socket peer (a web server's end of a unix socket has none).
func name(a net.Addr) string {
	if a != nil {
		if s := a.String(); s != "" && s != "@" {
			return s
		}
	}
	return "unix"
}
