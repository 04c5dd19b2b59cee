package cgiscript

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/cgiresp"
	"github.com/gatewayd/gatewayd/core/environ"
)

// localRedirect serves loc, a script's local redirect (RFC 3875 section
// 6.2.2), through rn.Redirect as a new GET request built by
// cgiresp.RedirectRequest, which the FastCGI upstream shares, so that one
// count of redirects bounds a request across apps.
func (rn *Runner) localRedirect(w http.ResponseWriter, r *http.Request, env environ.Env, loc string, log *zap.Logger) {
	if n := cgiresp.Redirects(r.Context()); n >= rn.cfg.MaxRedirects {
		log.Error("too many local redirects; answered 500", zap.Int("max_redirects", rn.cfg.MaxRedirects),
			zap.String("location", loc))
		httpError(w, http.StatusInternalServerError)
		return
	}
	req, err := cgiresp.RedirectRequest(r, env, loc)
	if errors.Is(err, cgiresp.ErrBadRedirect) {
		log.Error("script sent a bad local redirect; answered 502", zap.String("location", loc))
		httpError(w, http.StatusBadGateway)
		return
	}
	if err != nil {
		log.Error("building the local redirect", zap.String("location", loc), zap.Error(err))
		httpError(w, http.StatusInternalServerError)
		return
	}
	log.Debug("local redirect", zap.String("location", loc))
	rn.Redirect.ServeHTTP(w, req)
}
