package scgi

import (
	"net"
	"net/url"
	"path"
	"strings"

	"github.com/gatewayd/gatewayd/core/environ"
)

// normalize completes the environment a web server sent so that the app
// sees what the HTTP, FastCGI and CGI front ends would give it for the same
// request. docs/scgi.md explains each rule.
func normalize(e environ.Env, serverSoftware string) {
	if e["CONTENT_TYPE"] == "" {
		// nginx's stock scgi_params send $content_type, empty when the
		// request has none.
		delete(e, "CONTENT_TYPE")
	}
	if e["CONTENT_LENGTH"] == "0" && !explicitZeroLength(e) {
		// SCGI always sends CONTENT_LENGTH; CGI sets it only for a request
		// with a body or a Content-Length of its own.
		delete(e, "CONTENT_LENGTH")
	}
	// RFC 3875 4.1.18: these two are CONTENT_LENGTH and CONTENT_TYPE, never
	// HTTP_* (nginx passes them on with the other headers).
	delete(e, "HTTP_CONTENT_LENGTH")
	delete(e, "HTTP_CONTENT_TYPE")

	normalizePath(e)

	if _, ok := e["GATEWAY_INTERFACE"]; !ok {
		e["GATEWAY_INTERFACE"] = "CGI/1.1"
	}
	if _, ok := e["SERVER_SOFTWARE"]; !ok {
		if serverSoftware == "" {
			serverSoftware = "gatewayd"
		}
		e["SERVER_SOFTWARE"] = serverSoftware
	}
	if _, ok := e["QUERY_STRING"]; !ok {
		_, q, _ := strings.Cut(e["REQUEST_URI"], "?")
		e["QUERY_STRING"] = q
	}
	if e["SERVER_NAME"] == "" {
		if h := e["HTTP_HOST"]; h != "" {
			if host, _, err := net.SplitHostPort(h); err == nil {
				h = host
			}
			e["SERVER_NAME"] = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		}
	}
}

// explicitZeroLength reports whether CONTENT_LENGTH "0" stands for a
// Content-Length the client sent, rather than SCGI's mandatory zero.
func explicitZeroLength(e environ.Env) bool {
	if _, ok := e["HTTP_CONTENT_LENGTH"]; ok {
		return true // nginx passes the client's header on
	}
	if _, ok := e["HTTP_TRANSFER_ENCODING"]; ok {
		return true // a (chunked) body that turned out empty
	}
	switch e["REQUEST_METHOD"] {
	case "POST", "PUT", "PATCH":
		// Clients send "Content-Length: 0" with an empty body for these
		// (curl, Go, browsers); Apache cannot tell us whether they did.
		return true
	}
	return false
}

// normalizePath makes SCRIPT_NAME and PATH_INFO what the app expects when
// the web server did not split the path: nginx's scgi_params send neither
// (only REQUEST_URI and DOCUMENT_URI); Apache's mod_proxy_scgi sends the whole
// path as SCRIPT_NAME and no PATH_INFO. In both cases gatewayd's routes want
// the path in PATH_INFO and SCRIPT_NAME empty, as the HTTP front end has it.
// A PATH_INFO the web server sent, even an empty one, is left alone.
func normalizePath(e environ.Env) {
	if _, ok := e["PATH_INFO"]; !ok {
		p, ok := requestPath(e)
		sn := e["SCRIPT_NAME"]
		switch {
		case !ok:
		case sn == "":
			e["SCRIPT_NAME"], e["PATH_INFO"] = "", p
		case samePath(sn, p):
			// Keep the web server's decoded spelling.
			e["SCRIPT_NAME"], e["PATH_INFO"] = "", sn
		}
	}
	if _, ok := e["SCRIPT_NAME"]; !ok {
		e["SCRIPT_NAME"] = ""
	}
}

// requestPath is the decoded request path: DOCUMENT_URI (nginx's $uri, after
// rewrites) when set, else the path of REQUEST_URI.
func requestPath(e environ.Env) (string, bool) {
	if p := e["DOCUMENT_URI"]; strings.HasPrefix(p, "/") {
		return p, true
	}
	uri := e["REQUEST_URI"]
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	if !strings.HasPrefix(uri, "/") {
		return "", false
	}
	p, err := url.PathUnescape(uri)
	if err != nil {
		return "", false
	}
	return p, true
}

// samePath compares two decoded paths as a web server that merges slashes
// and removes dot segments would.
func samePath(a, b string) bool {
	return a == b || cleanPath(a) == cleanPath(b)
}

func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}
