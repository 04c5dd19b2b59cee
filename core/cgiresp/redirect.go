package cgiresp

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/gatewayd/gatewayd/core/environ"
)

// ErrBadRedirect is a local redirect whose Location is not a request path.
var ErrBadRedirect = errors.New("cgiresp: bad local redirect")

type redirectsKey struct{}

// Redirects returns how many local redirects the request of ctx has
// followed, through any app.
func Redirects(ctx context.Context) int {
	n, _ := ctx.Value(redirectsKey{}).(int)
	return n
}

// RedirectRequest builds the request that serves loc, the Location of a
// local redirect answering r (whose environment is env): a GET with the
// environment of the original request but REQUEST_METHOD GET, SCRIPT_NAME
// "", PATH_INFO the decoded path, QUERY_STRING and REQUEST_URI from loc,
// and no body, CONTENT_*, PATH_TRANSLATED or HTTP_PROXY. Its context carries
// the new environment and one more redirect. The caller checks
// Redirects(r.Context()) against its own bound first, and serves the
// request through the routes.
func RedirectRequest(r *http.Request, env environ.Env, loc string) (*http.Request, error) {
	u, err := url.ParseRequestURI(loc)
	if err != nil || u.Path == "" {
		return nil, ErrBadRedirect
	}
	next := env.Clone()
	next["REQUEST_METHOD"] = http.MethodGet
	next["SCRIPT_NAME"] = ""
	next["PATH_INFO"] = u.Path
	next["QUERY_STRING"] = u.RawQuery
	next["REQUEST_URI"] = loc
	for _, name := range []string{"CONTENT_LENGTH", "CONTENT_TYPE", "PATH_TRANSLATED", "HTTP_PROXY"} {
		delete(next, name)
	}
	req, err := next.Request(nil)
	if err != nil {
		return nil, err
	}
	ctx := environ.NewContext(context.WithValue(r.Context(), redirectsKey{}, Redirects(r.Context())+1), next)
	return req.WithContext(ctx), nil
}
