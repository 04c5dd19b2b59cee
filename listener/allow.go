package listener

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/internal/lograte"
)

// ParseWebServerAddrs parses FCGI_WEB_SERVER_ADDRS: IP addresses separated
// by commas (spaces around them allowed). Empty means no restriction (nil).
func ParseWebServerAddrs(s string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%w: FCGI_WEB_SERVER_ADDRS %q: %w", ErrAddress, f, err)
		}
		addrs = append(addrs, a.Unmap())
	}
	return addrs, nil
}

// AllowOnly wraps l so that connections from IP addresses not in allowed are
// closed as they are accepted, with a log line (one per 10s, counting the
// rest), as FastCGI says for
// FCGI_WEB_SERVER_ADDRS. An empty allowed returns l itself. Connections
// without an IP peer (unix sockets) are let through.
func AllowOnly(l net.Listener, allowed []netip.Addr, log *zap.Logger) net.Listener {
	if len(allowed) == 0 {
		return l
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &allowListener{Listener: l, allowed: slices.Clone(allowed), log: log}
}

type allowListener struct {
	net.Listener
	allowed []netip.Addr
	log     *zap.Logger
	logged  lograte.Limiter
	counted atomic.Pointer[func()] // set by OnRefused
}

// OnRefused has f called for every connection the allow-list closes, the
// ones the log leaves out included: the daemon counts them in
// gatewayd_listener_refused_connections_total.
func (l *allowListener) OnRefused(f func()) { l.counted.Store(&f) }

func (l *allowListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip, ok := peerIP(c.RemoteAddr())
		if !ok || slices.Contains(l.allowed, ip) {
			return c, nil
		}
		// Whoever can reach the socket can repeat this at will: one line
		// per interval, counting the ones held back.
		if ok, n := l.logged.Allow(time.Now()); ok {
			l.log.Warn("listener: connection from an address not in FCGI_WEB_SERVER_ADDRS closed",
				zap.Stringer("remote", c.RemoteAddr()), zap.Int64("suppressed", n))
		}
		if f := l.counted.Load(); f != nil {
			(*f)()
		}
		c.Close()
	}
}

func peerIP(a net.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap(), true
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
