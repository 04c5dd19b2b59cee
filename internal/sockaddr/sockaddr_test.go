package sockaddr

import (
	"errors"
	"net"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in         string
		listen     Addr // zero: refused
		dial       Addr
		listenText string // the error, when refused
	}{
		{in: "127.0.0.1:9000", listen: Addr{"tcp", "127.0.0.1:9000"}, dial: Addr{"tcp", "127.0.0.1:9000"}},
		{in: "[::1]:9000", listen: Addr{"tcp", "[::1]:9000"}, dial: Addr{"tcp", "[::1]:9000"}},
		{in: ":9000", listen: Addr{"tcp", ":9000"}},
		{in: "unix:/run/php/php-fpm.sock", listen: Addr{"unix", "/run/php/php-fpm.sock"}, dial: Addr{"unix", "/run/php/php-fpm.sock"}},
		{in: "unix:@gatewayd", listen: Addr{"unix", "@gatewayd"}, dial: Addr{"unix", "@gatewayd"}},
		{in: "", listenText: "is required (host:port or unix:/path)"},
		{in: "unix:", listenText: `"unix:": a unix socket path must be absolute (or @name, a Linux abstract socket)`},
		{in: "unix:@", listenText: `"unix:@": a unix socket path must be absolute (or @name, a Linux abstract socket)`},
		{in: "unix:run/g.sock", listenText: `"unix:run/g.sock": a unix socket path must be absolute (or @name, a Linux abstract socket)`},
		{in: "localhost", listenText: `"localhost" is not host:port or unix:/path`},
		{in: "localhost:", listenText: `"localhost:" is not host:port or unix:/path`},
	} {
		got, err := Parse(tc.in)
		switch {
		case tc.listen == (Addr{}) && (err == nil || err.Error() != tc.listenText || !errors.Is(err, ErrAddress)):
			t.Errorf("Parse(%q) = %v, %v; want the error %q", tc.in, got, err, tc.listenText)
		case tc.listen != (Addr{}) && (err != nil || got != tc.listen):
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.listen)
		}
		got, err = ParseDial(tc.in)
		switch {
		case tc.dial == (Addr{}) && (err == nil || !errors.Is(err, ErrAddress)):
			t.Errorf("ParseDial(%q) = %v, %v; want an error", tc.in, got, err)
		case tc.dial != (Addr{}) && (err != nil || got != tc.dial):
			t.Errorf("ParseDial(%q) = %v, %v; want %v", tc.in, got, err, tc.dial)
		}
	}
}

func TestPeer(t *testing.T) {
	for _, c := range []struct {
		a    net.Addr
		want string
	}{
		{nil, "unix"},
		{&net.UnixAddr{Net: "unix"}, "unix"},
		{&net.UnixAddr{Name: "@", Net: "unix"}, "unix"},
		{&net.UnixAddr{Name: "/run/gw.sock", Net: "unix"}, "/run/gw.sock"},
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}, "127.0.0.1:4000"},
	} {
		if got := Peer(c.a); got != c.want {
			t.Errorf("Peer(%v) = %q, want %q", c.a, got, c.want)
		}
	}
}
