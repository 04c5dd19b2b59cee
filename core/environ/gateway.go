package environ

import (
	"net"
	"net/url"
	"path"
	"strings"
)

// GatewayOptions say how [NormalizeGateway] completes an environment.
type GatewayOptions struct {
	// LiteralPaths leaves SCRIPT_NAME and PATH_INFO exactly as the web
	// server sent them. Default false: the path rule below applies.
	LiteralPaths bool
	// ServerSoftware is SERVER_SOFTWARE when the web server sent none.
	// Empty means "gatewayd".
	ServerSoftware string
}

// NormalizeGateway completes the environment a web server sent over a
// gateway protocol (FastCGI, SCGI), so that an app sees what the HTTP and CGI
// front ends give it for the same request:
//
//   - empty CONTENT_LENGTH, CONTENT_TYPE, REMOTE_USER and AUTH_TYPE are
//     dropped (nginx's stock params send them empty where CGI leaves them
//     unset), and so are HTTP_CONTENT_LENGTH and HTTP_CONTENT_TYPE (RFC 3875
//     4.1.18: those are CONTENT_*);
//   - the path rule: when PATH_INFO is unset, the web server did not split
//     the path. The request path is DOCUMENT_URI (nginx's $uri), else the
//     decoded path of REQUEST_URI. With no SCRIPT_NAME, PATH_INFO becomes
//     that path; with a SCRIPT_NAME that is a leading part of it (on a
//     segment boundary), PATH_INFO becomes the rest; otherwise — nginx's
//     stock fastcgi_params and Apache's mod_proxy_fcgi and mod_proxy_scgi
//     send the whole path as SCRIPT_NAME — SCRIPT_NAME moves to PATH_INFO
//     and becomes "". A PATH_INFO that was sent, even empty
//     (fastcgi_split_path_info), is kept;
//   - GATEWAY_INTERFACE, SERVER_SOFTWARE, QUERY_STRING (from REQUEST_URI)
//     and SERVER_NAME (from HTTP_HOST) are filled in when missing.
func NormalizeGateway(e Env, o GatewayOptions) {
	for _, name := range [...]string{"CONTENT_LENGTH", "CONTENT_TYPE", "REMOTE_USER", "AUTH_TYPE"} {
		if v, ok := e[name]; ok && v == "" {
			delete(e, name)
		}
	}
	delete(e, "HTTP_CONTENT_LENGTH")
	delete(e, "HTTP_CONTENT_TYPE")
	if !o.LiteralPaths {
		splitPath(e)
	}
	if _, ok := e["SCRIPT_NAME"]; !ok {
		e["SCRIPT_NAME"] = ""
	}
	if _, ok := e["GATEWAY_INTERFACE"]; !ok {
		e["GATEWAY_INTERFACE"] = "CGI/1.1"
	}
	if _, ok := e["SERVER_SOFTWARE"]; !ok {
		if o.ServerSoftware == "" {
			o.ServerSoftware = "gatewayd"
		}
		e["SERVER_SOFTWARE"] = o.ServerSoftware
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

// NormalizeSCGI is what the SCGI front end does with the headers a web
// server sent, and what `gatewayd explain` predicts for them: SCGI's
// mandatory CONTENT_LENGTH "0" is dropped unless the client sent a length
// of its own (CGI sets it only for a request with a body or a
// Content-Length), then [NormalizeGateway] applies.
func NormalizeSCGI(e Env, o GatewayOptions) {
	if e["CONTENT_LENGTH"] == "0" && !explicitZeroLength(e) {
		delete(e, "CONTENT_LENGTH")
	}
	NormalizeGateway(e, o)
}

// explicitZeroLength reports whether an SCGI CONTENT_LENGTH "0" stands for
// a Content-Length the client sent, rather than SCGI's mandatory zero.
func explicitZeroLength(e Env) bool {
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

// NormalizeFastCGI is what the FastCGI front end does with the FCGI_PARAMS
// a web server sent, and what `gatewayd explain` predicts for them:
// [NormalizeGateway], then FCGI_ROLE set to role ("RESPONDER" or
// "AUTHORIZER", the role of FCGI_BEGIN_REQUEST) unless the web server sent
// one.
func NormalizeFastCGI(e Env, o GatewayOptions, role string) {
	NormalizeGateway(e, o)
	if _, ok := e["FCGI_ROLE"]; !ok {
		e["FCGI_ROLE"] = role
	}
}

// splitPath is NormalizeGateway's path rule.
func splitPath(e Env) {
	if _, ok := e["PATH_INFO"]; ok {
		return
	}
	sn := e["SCRIPT_NAME"]
	p, known := requestPath(e)
	switch {
	case sn == "":
		if known {
			e["SCRIPT_NAME"], e["PATH_INFO"] = "", p
		}
	case known && !samePath(sn, p) && strings.HasPrefix(p, sn) && (p[len(sn)] == '/' || strings.HasSuffix(sn, "/")):
		e["PATH_INFO"] = p[len(sn):]
	default:
		// The whole path (in the web server's decoded spelling), or a
		// SCRIPT_NAME unrelated to it: route by it.
		e["SCRIPT_NAME"], e["PATH_INFO"] = "", sn
	}
}

// requestPath is the decoded request path: DOCUMENT_URI when set, else the
// path of REQUEST_URI.
func requestPath(e Env) (string, bool) {
	if p := e["DOCUMENT_URI"]; strings.HasPrefix(p, "/") {
		return p, true
	}
	uri, _, _ := strings.Cut(e["REQUEST_URI"], "?")
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
