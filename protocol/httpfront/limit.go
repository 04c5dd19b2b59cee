package httpfront

import (
	"net"

	"github.com/gatewayd/gatewayd/internal/setting"
	"github.com/gatewayd/gatewayd/protocol/internal/overload"
)

// DefaultMaxConns is MaxConns's default: the FastCGI and SCGI front ends'.
const DefaultMaxConns = 1024

// overloaded is the whole answer to a connection over MaxConns
// (overload.Answer).
const overloaded = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Content-Length: 20\r\nRetry-After: 1\r\nConnection: close\r\n\r\nService Unavailable\n"

func (s *Server) maxConns() int { return setting.Or(s.MaxConns, DefaultMaxConns) }

// admit decides what becomes of a connection just accepted. Within
// MaxConns it is served. At the bound, the connection idle longest (kept
// alive between requests, or open and silent since it was accepted) is
// closed to make room, as nginx reuses idle connections when
// worker_connections run out: a client that keeps connections it does not
// use must not lock out one that has a request. A request arriving on the
// closed one at that instant is lost, as on any keep-alive close, and
// clients retry those. With none idle, the new connection is refused. The
// count is exact: the connection closed for room stops counting at once,
// not when net/http reports it closed.
func (s *Server) admit(wc *watchConn) overload.Decision {
	var victim *watchConn
	s.mu.Lock()
	decision := overload.Admit(len(s.live), s.refusing, s.maxConns())
	if decision != overload.Serve {
		oldest := int64(0)
		for c := range s.live {
			if t := c.idleSince.Load(); t != 0 && (oldest == 0 || t < oldest) {
				victim, oldest = c, t
			}
		}
		if victim != nil {
			delete(s.live, victim)
			decision = overload.Serve
		}
	}
	switch decision {
	case overload.Serve:
		s.live[wc] = struct{}{}
	case overload.Refuse:
		s.refusing++
	}
	s.mu.Unlock()
	if victim != nil {
		_ = victim.Close()
	}
	return decision
}

// refuseConn counts and logs a connection over MaxConns.
func (s *Server) refuseConn(c net.Conn, answered bool) {
	if s.Refused != nil {
		s.Refused(c)
	}
	msg := "http: over max_conns with no idle connection; answering 503"
	if !answered {
		msg = "http: over max_conns with no idle connection; connection closed"
	}
	s.refused.Refused(s.log(), msg, s.maxConns(), c.RemoteAddr())
}

// answerOverloaded answers a connection over MaxConns 503 and closes it.
func (s *Server) answerOverloaded(c net.Conn) {
	defer func() {
		s.mu.Lock()
		s.refusing--
		s.mu.Unlock()
	}()
	overload.Answer(c, overloaded, 0)
}
