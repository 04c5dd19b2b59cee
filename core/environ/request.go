package environ

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ErrNoMethod is returned by [Env.Request] when REQUEST_METHOD is missing.
var ErrNoMethod = errors.New("environ: REQUEST_METHOD is not set")

// ErrContentLength is returned (wrapped) by [Env.Request] when
// CONTENT_LENGTH is not what [ParseContentLength] accepts.
var ErrContentLength = errors.New("environ: bad CONTENT_LENGTH")

// maxLengthDigits bounds CONTENT_LENGTH so that it always fits an int64.
const maxLengthDigits = 18

// ParseContentLength parses a CONTENT_LENGTH value the way every front end
// must: one to 18 decimal digits and nothing else (RFC 9110 §8.6: 1*DIGIT).
// A sign, spaces, an exponent or a longer number are refused rather than
// read one way here and another way by the peer; 18 digits are an exabyte.
func ParseContentLength(s string) (int64, bool) {
	if s == "" || len(s) > maxLengthDigits {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// Request builds the *http.Request an app runs with from the environment and
// the request body:
//   - Method from REQUEST_METHOD, Proto from SERVER_PROTOCOL (HTTP/1.0 when unset);
//   - URL from REQUEST_URI when it parses, else SCRIPT_NAME+PATH_INFO+"?"+QUERY_STRING;
//   - Header from every HTTP_* variable (HTTP_USER_AGENT becomes User-Agent),
//     CONTENT_TYPE and CONTENT_LENGTH;
//   - Host from HTTP_HOST, else SERVER_NAME and SERVER_PORT;
//   - RemoteAddr from REMOTE_ADDR and REMOTE_PORT;
//   - TLS set (to an empty, completed handshake) when HTTPS is on.
//
// body may be nil for a request without one. The request's context is
// context.Background carrying e; callers replace it with WithContext.
func (e Env) Request(body io.Reader) (*http.Request, error) {
	return e.RequestWithContext(NewContext(context.Background(), e), body)
}

// RequestWithContext is Request with the context ctx, which is used as it
// is: apps find the environment only if ctx carries it (NewContext, or a
// context of the caller's own that answers for it, see IsContextKey). It
// spares the core the second copy of the request that Request followed by
// WithContext makes.
func (e Env) RequestWithContext(ctx context.Context, body io.Reader) (*http.Request, error) {
	var r http.Request // stays on the stack: only WithContext's copy is kept
	if err := e.fill(&r, body); err != nil {
		return nil, err
	}
	return r.WithContext(ctx), nil
}

// RequestInto is RequestWithContext building the request in *dst, which
// the caller owns (the core keeps it in the request's one allocation).
func (e Env) RequestInto(ctx context.Context, dst *http.Request, body io.Reader) error {
	if err := e.fill(dst, body); err != nil {
		return err
	}
	// WithContext is inlined and its copy does not escape: the context is
	// set without a second request on the heap.
	*dst = *dst.WithContext(ctx)
	return nil
}

func (e Env) fill(r *http.Request, body io.Reader) error {
	method := e["REQUEST_METHOD"]
	if method == "" {
		return ErrNoMethod
	}
	*r = http.Request{
		Method: method,
		Header: make(http.Header, 8),
		Proto:  e["SERVER_PROTOCOL"],
	}
	if r.Proto == "" {
		r.Proto = "HTTP/1.0"
	}
	var ok bool
	if r.ProtoMajor, r.ProtoMinor, ok = http.ParseHTTPVersion(r.Proto); !ok {
		// INCLUDED and other non-HTTP protocols: answer as HTTP/1.0.
		r.ProtoMajor, r.ProtoMinor = 1, 0
	}

	// The header values share one backing array: a []string per header
	// was an allocation for each. Each value's slice is capped at its own
	// element, so that an app's Add to one header cannot overwrite the next.
	n := 0
	for name := range e {
		if len(name) > 5 && strings.HasPrefix(name, "HTTP_") && name != "HTTP_HOST" {
			n++
		}
	}
	values := make([]string, n)
	for name, value := range e {
		if len(name) > 5 && strings.HasPrefix(name, "HTTP_") && name != "HTTP_HOST" && len(values) > 0 {
			values[0] = value
			r.Header[headerKey(name[5:])] = values[:1:1]
			values = values[1:]
		}
	}
	r.Host = e["HTTP_HOST"]
	if r.Host == "" {
		r.Host = e["SERVER_NAME"]
		if port := e["SERVER_PORT"]; port != "" && r.Host != "" &&
			!(port == "80" && GuessScheme(e) == "http") && !(port == "443" && GuessScheme(e) == "https") {
			r.Host = net.JoinHostPort(r.Host, port)
		}
	}
	delete(r.Header, "Host")
	if ct := e["CONTENT_TYPE"]; ct != "" {
		r.Header["Content-Type"] = []string{ct}
	}
	r.ContentLength = -1
	if cl := e["CONTENT_LENGTH"]; cl != "" {
		n, ok := ParseContentLength(cl)
		if !ok {
			return fmt.Errorf("%w %q", ErrContentLength, cl)
		}
		r.ContentLength = n
		r.Header["Content-Length"] = []string{cl}
	} else if body == nil {
		r.ContentLength = 0
	}
	if body == nil || r.ContentLength == 0 {
		r.Body = http.NoBody
	} else if rc, ok := body.(io.ReadCloser); ok {
		r.Body = rc
	} else {
		r.Body = io.NopCloser(body)
	}

	if err := e.setURL(r); err != nil {
		return err
	}
	if addr := e["REMOTE_ADDR"]; addr != "" {
		if port := e["REMOTE_PORT"]; port != "" {
			r.RemoteAddr = net.JoinHostPort(addr, port)
		} else {
			r.RemoteAddr = addr
		}
	}
	if GuessScheme(e) == "https" {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: hostOnly(r.Host)}
	}
	return nil
}

func (e Env) setURL(r *http.Request) error {
	if uri := e["REQUEST_URI"]; uri != "" {
		if u, err := url.ParseRequestURI(uri); err == nil {
			r.URL, r.RequestURI = u, uri
			return nil
		}
	}
	p := e["SCRIPT_NAME"] + e["PATH_INFO"]
	if p == "" {
		p = "/"
	}
	r.URL = &url.URL{Path: p, RawQuery: e["QUERY_STRING"]}
	r.RequestURI = r.URL.RequestURI()
	return nil
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// headerKey turns the part of an HTTP_* name after the prefix into the
// canonical header key: USER_AGENT → User-Agent.
func headerKey(s string) string {
	if k, ok := tables.toKey[s]; ok {
		return k
	}
	var buf [64]byte
	b := buf[:0]
	upper := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			c = '-'
			upper = true
			b = append(b, c)
			continue
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		upper = false
		b = append(b, c)
	}
	return string(b)
}

// Options says how [FromRequest] builds an environment.
type Options struct {
	// ServerSoftware is SERVER_SOFTWARE. Empty means "gatewayd".
	ServerSoftware string
	// PassAuthorization passes the Authorization header as HTTP_AUTHORIZATION.
	// RFC 3875 keeps it from scripts; the default, false, follows that.
	PassAuthorization bool
	// LocalAddr is the address the request arrived on, for SERVER_PORT and
	// SERVER_ADDR. Nil means use the request's context (net/http puts it
	// there under http.LocalAddrContextKey).
	LocalAddr net.Addr
	// Local, when set, is LocalAddr already split by SplitLocal: a front
	// end serving many requests on one connection splits its address once,
	// not once a request (formatting and splitting it cost two allocations).
	Local *Local
}

// Local is the host and port of the address requests arrive on.
type Local struct{ Host, Port string }

// SplitLocal splits a, as FromRequest does; a nil address, or one without
// a port (a unix socket), gives empty strings.
func SplitLocal(a net.Addr) Local {
	var l Local
	if a != nil {
		l.Host, l.Port, _ = net.SplitHostPort(a.String())
	}
	return l
}

// FromRequest builds the environment a CGI server would build for r, as the
// HTTP front end does: SERVER_NAME (from Host), SERVER_PORT, SERVER_ADDR,
// SERVER_PROTOCOL, SERVER_SOFTWARE, GATEWAY_INTERFACE, REQUEST_METHOD,
// REQUEST_URI, SCRIPT_NAME (empty), PATH_INFO (the decoded path),
// QUERY_STRING, REMOTE_ADDR, REMOTE_PORT, CONTENT_TYPE and CONTENT_LENGTH
// when the request has them, HTTPS "on" over TLS, and HTTP_* for the other
// headers.
//
// Header rules (RFC 3875 section 4.1.18): repeated fields are joined with ", "
// (Cookie with "; "); Content-Type and Content-Length are not repeated as
// HTTP_*; Authorization is left out unless PassAuthorization is set; a Proxy
// header never becomes HTTP_PROXY (httpoxy, CVE-2016-5385); header names with
// "_" are dropped, as nginx and Apache do, since they would collide with the
// "-" spelling.
func FromRequest(r *http.Request, o Options) Env {
	e := make(Env, 16+len(r.Header))
	e["GATEWAY_INTERFACE"] = "CGI/1.1"
	if o.ServerSoftware != "" {
		e["SERVER_SOFTWARE"] = o.ServerSoftware
	} else {
		e["SERVER_SOFTWARE"] = "gatewayd"
	}
	e["SERVER_PROTOCOL"] = r.Proto
	e["REQUEST_METHOD"] = r.Method
	e["REQUEST_URI"] = r.RequestURI
	e["SCRIPT_NAME"] = ""
	e["PATH_INFO"] = r.URL.Path
	e["QUERY_STRING"] = r.URL.RawQuery

	var local Local
	if o.Local != nil {
		local = *o.Local
	} else {
		addr := o.LocalAddr
		if addr == nil {
			addr, _ = r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		}
		local = SplitLocal(addr)
	}
	localHost, localPort := local.Host, local.Port
	host := r.Host
	// Most Host headers carry no port; SplitHostPort would allocate an
	// error for each of them.
	if strings.LastIndexByte(host, ':') > strings.LastIndexByte(host, ']') {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		host = localHost
	}
	e["SERVER_NAME"] = host
	if localPort != "" {
		e["SERVER_PORT"] = localPort
	} else if r.TLS != nil {
		e["SERVER_PORT"] = "443"
	} else {
		e["SERVER_PORT"] = "80"
	}
	if localHost != "" {
		e["SERVER_ADDR"] = localHost
	}
	if addr, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		e["REMOTE_ADDR"], e["REMOTE_PORT"] = addr, port
	} else {
		e["REMOTE_ADDR"] = r.RemoteAddr
	}
	if r.TLS != nil {
		e["HTTPS"] = "on"
	}
	if r.ContentLength > 0 || (r.ContentLength == 0 && len(r.Header["Content-Length"]) > 0) {
		e["CONTENT_LENGTH"] = strconv.FormatInt(r.ContentLength, 10)
	}
	if ct := r.Header["Content-Type"]; len(ct) > 0 {
		e["CONTENT_TYPE"] = ct[0]
	}
	if r.Host != "" {
		e["HTTP_HOST"] = r.Host
	}
	for k, v := range r.Header {
		name, ok := headerVar(k, o.PassAuthorization)
		if !ok || len(v) == 0 {
			continue
		}
		if len(v) == 1 {
			e[name] = v[0]
		} else if name == "HTTP_COOKIE" {
			e[name] = strings.Join(v, "; ")
		} else {
			e[name] = strings.Join(v, ", ")
		}
	}
	return e
}

// headerVar returns the HTTP_* variable for a canonical header key, or false
// when the header must not be passed.
func headerVar(key string, passAuth bool) (string, bool) {
	switch key {
	case "Content-Type", "Content-Length", "Proxy", "Host":
		return "", false
	case "Authorization":
		if !passAuth {
			return "", false
		}
	}
	if v, ok := tables.toVar[key]; ok {
		return v, true
	}
	if strings.IndexByte(key, '_') >= 0 {
		return "", false
	}
	var buf [64]byte
	b := appendVarName(append(buf[:0], "HTTP_"...), key)
	if string(b) == "HTTP_PROXY" {
		return "", false
	}
	return string(b), true
}

// appendVarName appends the meta-variable spelling of a header key:
// upper case, "-" → "_" (User-Agent → USER_AGENT).
func appendVarName(dst []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '-':
			c = '_'
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
