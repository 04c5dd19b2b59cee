package client

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Schemes of a target.
const (
	FastCGI = "fastcgi"
	SCGI    = "scgi"
	HTTP    = "http"
	CGI     = "cgi"
)

// ErrTarget is a target that does not parse: a usage error.
var ErrTarget = errors.New("client: bad target")

// Target is where a request goes.
type Target struct {
	// Scheme is FastCGI, SCGI, HTTP or CGI.
	Scheme string
	// Network is "tcp" or "unix" ("" for CGI).
	Network string
	// Address is "host:port", the socket's path, or the CGI script's path.
	Address string
}

// ParseTarget parses fastcgi://HOST:PORT, fastcgi:///path/to.sock,
// scgi://…, http://HOST:PORT and cgi:///path/to/script.
func ParseTarget(s string) (Target, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Target{}, fmt.Errorf("%w %q: want fastcgi://HOST:PORT, fastcgi:///path/to.sock, scgi://…, http://HOST:PORT or cgi:///path/to/script", ErrTarget, s)
	}
	t := Target{Scheme: strings.ToLower(scheme)}
	switch t.Scheme {
	case FastCGI, SCGI, HTTP, CGI:
	default:
		return Target{}, fmt.Errorf("%w %q: unknown scheme %q", ErrTarget, s, scheme)
	}
	if strings.HasPrefix(rest, "/") {
		p, err := url.PathUnescape(rest)
		if err != nil {
			return Target{}, fmt.Errorf("%w %q: %w", ErrTarget, s, err)
		}
		if t.Scheme == HTTP {
			return Target{}, fmt.Errorf("%w %q: http targets are HOST:PORT", ErrTarget, s)
		}
		t.Network, t.Address = "unix", p
		if t.Scheme == CGI {
			t.Network = ""
		}
		return t, nil
	}
	if t.Scheme == CGI {
		return Target{}, fmt.Errorf("%w %q: a cgi target is cgi:///path/to/script", ErrTarget, s)
	}
	rest = strings.TrimSuffix(rest, "/")
	host, port, err := net.SplitHostPort(rest)
	if err != nil && t.Scheme == HTTP {
		host, port, err = rest, "80", nil
	}
	if err != nil || host == "" || port == "" || strings.ContainsAny(rest, "/?#") {
		return Target{}, fmt.Errorf("%w %q: want %s://HOST:PORT or %s:///path/to.sock", ErrTarget, s, t.Scheme, t.Scheme)
	}
	t.Network, t.Address = "tcp", net.JoinHostPort(host, port)
	return t, nil
}

// String is the target as a URL.
func (t Target) String() string { return t.Scheme + "://" + t.Address }

// host is the name HTTP_HOST and SERVER_NAME get: the target's host, or
// "localhost" for a unix socket or a script.
func (t Target) host() string {
	if t.Network == "tcp" {
		return t.Address
	}
	return "localhost"
}
