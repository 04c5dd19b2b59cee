// Package sockaddr parses the socket addresses gatewayd's configuration,
// listeners and FastCGI upstreams are written in, so that all three accept
// the same things:
//
//   - "host:port": TCP. A listener may leave the host out (":8080", every
//     interface); an address to dial may not.
//   - "unix:/absolute/path": a unix socket file. A relative path is refused:
//     it would depend on the directory gatewayd happens to start in.
//   - "unix:@name": a Linux abstract socket.
package sockaddr

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Addr is a parsed address, ready for net.Listen or net.Dial.
type Addr struct {
	// Network is "tcp" or "unix".
	Network string
	// Address is host:port, the socket's path, or "@name".
	Address string
}

// ErrAddress is what every error of Parse and ParseDial is.
var ErrAddress = errors.New("bad socket address")

// addrError says what is wrong with an address, in the words the config
// reference uses.
type addrError struct{ msg string }

func (e *addrError) Error() string        { return e.msg }
func (e *addrError) Is(target error) bool { return target == ErrAddress }

// Parse parses an address to listen on.
func Parse(s string) (Addr, error) { return parse(s, false) }

// ParseDial parses an address to connect to: a TCP address needs its host.
func ParseDial(s string) (Addr, error) { return parse(s, true) }

func parse(s string, dial bool) (Addr, error) {
	if s == "" {
		return Addr{}, &addrError{"is required (host:port or unix:/path)"}
	}
	if p, ok := strings.CutPrefix(s, "unix:"); ok {
		if !strings.HasPrefix(p, "/") && !(strings.HasPrefix(p, "@") && len(p) > 1) {
			return Addr{}, &addrError{fmt.Sprintf("%q: a unix socket path must be absolute (or @name, a Linux abstract socket)", s)}
		}
		return Addr{Network: "unix", Address: p}, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || port == "" || (dial && host == "") {
		return Addr{}, &addrError{fmt.Sprintf("%q is not host:port or unix:/path", s)}
	}
	return Addr{Network: "tcp", Address: s}, nil
}

// Peer is how a log line names a connection's peer: its address, or
// "unix" for a unix socket peer without a name (a web server's end of a
// unix socket has none; Linux shows an unnamed one as "" or "@").
func Peer(a net.Addr) string {
	if a != nil {
		if s := a.String(); s != "" && s != "@" {
			return s
		}
	}
	return "unix"
}
