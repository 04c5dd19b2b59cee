package client

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gatewayd/gatewayd/app/cgiscript"
	"github.com/gatewayd/gatewayd/app/mount"
	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/docroot"
)

// ExplainRequest is a request to explain.
type ExplainRequest struct {
	// Method is the request method. Default GET.
	Method string
	// URL is "http://host:port/path?query" or "/path?query".
	URL string
	// Header holds request header fields.
	Header http.Header
	// Protocol is how the request reaches gatewayd: "http" (default),
	// "fastcgi" (from nginx with its stock fastcgi_params) or "scgi" (from
	// nginx with its stock scgi_params).
	Protocol string
	// Params set or override variables of what the web server sends
	// (fastcgi, scgi), or of the environment (http).
	Params map[string]string
}

// Explanation is what gatewayd would do with a request, found without
// running any app.
type Explanation struct {
	Method, URL, Protocol string
	// Sent is what the web server sends (FastCGI, SCGI), before
	// gatewayd's front end completes it.
	Sent environ.Env
	// Route is the matching route's prefix and app; empty when none.
	Prefix, App string
	// Status is the answer gatewayd gives itself, when not 0 (404 without
	// a route, the fastcgi app's 301/400/403/404), and Why says why.
	Status int
	Why    string
	// Script is the CGI script or the FastCGI SCRIPT_FILENAME; File the
	// static file; Upstream the FastCGI application's address.
	Script, File, Upstream string
	// Env is the environment the app gets.
	Env environ.Env
}

// Explain says what gatewayd with cfg would do with req: the route, the
// environment after mounting, the script or upstream, or the answer it
// gives itself. The path rule, the router (app/mount) and the fastcgi
// app's script lookup (internal/docroot) are gatewayd's own; no app runs.
func Explain(cfg *config.Config, req ExplainRequest) (*Explanation, error) {
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	if req.Protocol == "" {
		req.Protocol = HTTP
	}
	raw := req.URL
	if strings.HasPrefix(raw, "/") {
		raw = "http://localhost" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fail(Usage, "the URL %q: want http://HOST[:PORT]/path?query or /path?query", req.URL)
	}
	x := &Explanation{Method: req.Method, URL: req.URL, Protocol: req.Protocol}
	var env environ.Env
	switch req.Protocol {
	case HTTP:
		env = httpEnv(u, req, cfg.ServerSoftware)
		for k, v := range req.Params {
			env[k] = v
		}
	case FastCGI, SCGI:
		x.Sent = nginxParams(u, req)
		for k, v := range req.Params {
			x.Sent[k] = v
		}
		env = x.Sent.Clone()
		// The front ends' own rules, from the one place they live.
		opts := environ.GatewayOptions{ServerSoftware: cfg.ServerSoftware}
		if req.Protocol == SCGI {
			environ.NormalizeSCGI(env, opts)
		} else {
			environ.NormalizeFastCGI(env, opts, "RESPONDER")
		}
	default:
		return nil, fail(Usage, "--protocol %q: want http, fastcgi or scgi", req.Protocol)
	}

	// The router itself decides, with stand-ins for the apps that record
	// what they were given.
	routes := make([]mount.Route, len(cfg.Routes))
	var got environ.Env
	matched := -1
	for i, rc := range cfg.Routes {
		routes[i] = mount.Route{Prefix: rc.Prefix, Kind: rc.App, App: http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			got, _ = environ.FromContext(r.Context())
			matched = i
		})}
	}
	hr, err := env.Request(nil)
	if err != nil {
		return nil, fail(Usage, "the request: %w", err)
	}
	mount.New(routes).ServeHTTP(discard{}, hr.WithContext(environ.NewContext(hr.Context(), env)))
	if matched < 0 {
		x.Status, x.Why, x.Env = http.StatusNotFound, "no route matches PATH_INFO "+strconv.Quote(env["PATH_INFO"]), env
		return x, nil
	}
	rc := cfg.Routes[matched]
	x.Prefix, x.App, x.Env = rc.Prefix, rc.App, got
	switch rc.App {
	case "cgi":
		explainCGI(x, rc)
	case "fastcgi":
		explainFastCGI(x, rc)
	case "static":
		x.File = filepath.Join(rc.Root, filepath.FromSlash(got["PATH_INFO"]))
	}
	return x, nil
}

// httpEnv is what the HTTP front end (protocol/httpfront) builds for req:
// environ.FromRequest with the config's server_software, as the daemon
// gives it.
func httpEnv(u *url.URL, req ExplainRequest, serverSoftware string) environ.Env {
	r := &http.Request{Method: req.Method, URL: u, RequestURI: u.RequestURI(), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Host: u.Host, RemoteAddr: "127.0.0.1:54321"}
	for k, v := range req.Header {
		r.Header[http.CanonicalHeaderKey(k)] = v
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	local, _ := net.ResolveTCPAddr("tcp", net.JoinHostPort("127.0.0.1", port))
	return environ.FromRequest(r, environ.Options{LocalAddr: local, ServerSoftware: serverSoftware})
}

// nginxParams is what nginx sends with the stock fastcgi_params (or
// scgi_params) of Debian's package, for a location with root /var/www/html.
func nginxParams(u *url.URL, req ExplainRequest) environ.Env {
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	uri, _ := url.PathUnescape(path) // nginx's $uri is decoded
	port := u.Port()
	if port == "" {
		port = "80"
	}
	requestURI := u.RequestURI()
	e := environ.Env{
		"QUERY_STRING":    u.RawQuery,
		"REQUEST_METHOD":  req.Method,
		"CONTENT_TYPE":    "",
		"CONTENT_LENGTH":  "",
		"REQUEST_URI":     requestURI,
		"DOCUMENT_URI":    uri,
		"DOCUMENT_ROOT":   "/var/www/html",
		"SERVER_PROTOCOL": "HTTP/1.1",
		"REQUEST_SCHEME":  "http",
		"REMOTE_ADDR":     "127.0.0.1",
		"REMOTE_PORT":     "54321",
		"SERVER_PORT":     port,
		"SERVER_NAME":     u.Hostname(),
	}
	if req.Protocol == FastCGI {
		e["SCRIPT_NAME"] = uri // $fastcgi_script_name: the whole path
		e["GATEWAY_INTERFACE"] = "CGI/1.1"
		e["SERVER_SOFTWARE"] = "nginx"
		e["REMOTE_USER"] = ""
		e["SERVER_ADDR"] = "127.0.0.1"
		e["REDIRECT_STATUS"] = "200"
	} else {
		e["SCGI"] = "1"
		e["CONTENT_LENGTH"] = "0"
	}
	host := u.Host
	for k, v := range req.Header {
		name := "HTTP_" + strings.ToUpper(strings.ReplaceAll(k, "-", "_"))
		switch name {
		case "HTTP_CONTENT_TYPE":
			e["CONTENT_TYPE"] = strings.Join(v, ", ")
		case "HTTP_CONTENT_LENGTH":
			e["CONTENT_LENGTH"] = strings.Join(v, ", ")
		}
		if name == "HTTP_HOST" && len(v) > 0 {
			host = v[0]
		}
		e[name] = strings.Join(v, ", ")
	}
	// The stock params send nginx's $host: the Host without its port,
	// in lower case.
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	e["HTTP_HOST"] = strings.ToLower(host)
	return e
}

// explainCGI names the script a cgi route runs.
func explainCGI(x *Explanation, rc config.Route) {
	filename, sn, pi, status, why := cgiscript.Which(rc.Root, rc.Script, x.Env)
	if status != 0 {
		x.Status, x.Script = status, filename
		x.Why = http.StatusText(status)
		if why != nil {
			x.Why = why.Error()
		}
		return
	}
	x.Script = filename
	x.Env["SCRIPT_NAME"], x.Env["PATH_INFO"], x.Env["SCRIPT_FILENAME"] = sn, pi, filename
	if rc.Script == "" {
		x.Env["DOCUMENT_ROOT"] = rc.Root
	}
}

// explainFastCGI looks the script up as the fastcgi app does.
func explainFastCGI(x *Explanation, rc config.Route) {
	x.Upstream = rc.Upstream
	dir, err := filepath.Abs(rc.Root)
	if err == nil {
		var root *os.Root
		if root, err = os.OpenRoot(dir); err == nil {
			defer root.Close()
			index := rc.Index
			if index == "" {
				index = DefaultIndex
			}
			t := docroot.Lookup{Index: index, Extensions: docroot.DefaultExtensions(), Dotfiles: rc.Dotfiles == "allow"}.Resolve(root, x.Env["PATH_INFO"])
			switch {
			case t.Status == 0:
				x.Env = docroot.Params(x.Env, dir, t)
				x.Script = x.Env["SCRIPT_FILENAME"]
			case t.File && rc.StaticFiles:
				x.File = filepath.Join(dir, filepath.FromSlash(x.Env["PATH_INFO"]))
				x.Why = "not a script: the route's static files answer (static_files: true)"
			case t.File:
				x.Status, x.Why = http.StatusForbidden, "not a script, and the route serves no static files (static_files: false)"
			case t.Status == http.StatusMovedPermanently:
				x.Status, x.Why = t.Status, "a directory: redirect to "+environ.DirectoryLocation(x.Env["SCRIPT_NAME"], t.Dir, x.Env["QUERY_STRING"])
			default:
				x.Status, x.Why = t.Status, "the fastcgi app's script lookup under "+dir
			}
			return
		}
	}
	x.Status, x.Why = http.StatusInternalServerError, fmt.Sprintf("the root: %v", err)
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}

// Write writes the explanation as text.
func (x *Explanation) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "request      %s %s over %s\n", x.Method, x.URL, x.Protocol)
	if x.Prefix != "" {
		fmt.Fprintf(&b, "route        %s → %s\n", x.Prefix, x.App)
	} else {
		b.WriteString("route        none\n")
	}
	fmt.Fprintf(&b, "SCRIPT_NAME  %q\nPATH_INFO    %q\n", x.Env["SCRIPT_NAME"], x.Env["PATH_INFO"])
	if x.Upstream != "" {
		fmt.Fprintf(&b, "upstream     %s\n", x.Upstream)
	}
	if x.Script != "" {
		fmt.Fprintf(&b, "script       %s\n", x.Script)
	}
	if x.File != "" {
		fmt.Fprintf(&b, "file         %s\n", x.File)
	}
	switch {
	case x.Status != 0:
		fmt.Fprintf(&b, "answer       %d %s: %s\n", x.Status, http.StatusText(x.Status), x.Why)
	case x.Why != "":
		fmt.Fprintf(&b, "answer       %s\n", x.Why)
	default:
		fmt.Fprintf(&b, "answer       the %s app runs\n", x.App)
	}
	if x.Sent != nil {
		fmt.Fprintf(&b, "\nnginx sends (stock %s_params, root /var/www/html):\n", x.Protocol)
		for _, n := range x.Sent.Names() {
			fmt.Fprintf(&b, "  %s=%s\n", n, x.Sent[n])
		}
	}
	b.WriteString("\nthe app gets:\n")
	for _, n := range x.Env.Names() {
		fmt.Fprintf(&b, "  %s=%s\n", n, x.Env[n])
	}
	_, err := io.WriteString(w, b.String())
	return err
}
