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
