package cgiscript

import (
	"context"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
)

type redirectsKey struct{}

// redirects returns how many local redirects the request has followed.
func redirects(ctx context.Context) int {
	n, _ := ctx.Value(redirectsKey{}).(int)
	return n
}

// localRedirect serves loc, a script's local redirect (RFC 3875 section
// 6.2.2), through rn.Redirect as a new GET request: the environment of the
// original request with REQUEST_METHOD GET, SCRIPT_NAME "", PATH_INFO the
// decoded path, QUERY_STRING and REQUEST_URI from loc, and no body.
func (rn *Runner) localRedirect(w http.ResponseWriter, r *http.Request, env environ.Env, loc string, log *zap.Logger) {
	n := redirects(r.Context())
	if n >= rn.cfg.MaxRedirects {
		log.Error("too many local redirects; answered 500", zap.Int("max_redirects", rn.cfg.MaxRedirects),
			zap.String("location", loc))
		httpError(w, http.StatusInternalServerError)
		return
	}
	u, err := url.ParseRequestURI(loc)
	if err != nil || u.Path == "" {
		log.Error("script sent a bad local redirect; answered 502", zap.String("location", loc))
		httpError(w, http.StatusBadGateway)
		return
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
		log.Error("building the local redirect", zap.String("location", loc), zap.Error(err))
		httpError(w, http.StatusInternalServerError)
		return
	}
	ctx := environ.NewContext(context.WithValue(r.Context(), redirectsKey{}, n+1), next)
	log.Debug("local redirect", zap.String("location", loc))
	rn.Redirect.ServeHTTP(w, req.WithContext(ctx))
}
