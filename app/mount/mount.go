// Package mount routes requests to apps by the longest prefix of PATH_INFO,
// on a path-segment boundary ("/cgi" matches "/cgi" and "/cgi/x", never
// "/cgi-bin"). The matched prefix moves from PATH_INFO to SCRIPT_NAME, as
// wsgiref.util.shift_path_info moves a segment, so an app sees the
// environment of its own mount point. No match is a 404.
package mount

import (
	"net/http"
	"sort"
	"strings"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
)

// Route mounts one app.
type Route struct {
	// Prefix is "/" or a path without a trailing slash.
	Prefix string
	// Kind names the app kind for logs and metrics ("demo", "cgi", …).
	Kind string
	// App serves the requests under Prefix.
	App http.Handler
}

// Router is an http.Handler that dispatches to routes. It is immutable: a
// reload builds a new one.
type Router struct {
	routes []Route // longest prefix first
}

var _ http.Handler = (*Router)(nil)

// New returns a router over routes. Prefixes must be distinct.
func New(routes []Route) *Router {
	rs := append([]Route(nil), routes...)
	sort.SliceStable(rs, func(i, j int) bool { return len(rs[i].Prefix) > len(rs[j].Prefix) })
	return &Router{routes: rs}
}

// Match returns the route for pathInfo, or false.
func (rt *Router) Match(pathInfo string) (Route, bool) {
	for _, r := range rt.routes {
		if matches(r.Prefix, pathInfo) {
			return r, true
		}
	}
	return Route{}, false
}

func matches(prefix, pathInfo string) bool {
	if prefix == "/" {
		return true
	}
	if !strings.HasPrefix(pathInfo, prefix) {
		return false
	}
	return len(pathInfo) == len(prefix) || pathInfo[len(prefix)] == '/'
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	env, ok := environ.FromContext(r.Context())
	if !ok {
		// A plain net/http server: build the environment it would have had.
		env = environ.FromRequest(r, environ.Options{})
		r = r.WithContext(environ.NewContext(r.Context(), env))
	}
	pi := env["PATH_INFO"]
	route, ok := rt.Match(pi)
	if !ok {
		handler.Error(w, http.StatusNotFound)
		return
	}
	handler.InfoFrom(r.Context()).SetRoute(route.Prefix, route.Kind)
	if route.Prefix != "/" {
		env = env.Clone()
		env["SCRIPT_NAME"] = env["SCRIPT_NAME"] + route.Prefix
		env["PATH_INFO"] = pi[len(route.Prefix):]
		r = r.WithContext(environ.NewContext(r.Context(), env))
	}
	route.App.ServeHTTP(w, r)
}
