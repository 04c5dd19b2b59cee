package fcgiupstream

import (
	"context"
	"io"
	"net/http"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
)

// forwardCall is one request on its way upstream.
type forwardCall struct {
	w       http.ResponseWriter
	r       *http.Request
	env     environ.Env
	ps      *paramSet
	body    io.Reader
	n       int64 // body bytes, -1 for none
	sp      *spooled
	log     *reqLog
	outcome *Outcome
}

// forward sends the request upstream and relays the answer, once more on a
// new connection when a reused one turns out to have been closed by the
// upstream before it took the request. It reports the upstream's app status
// when the upstream answered.
func (u *Upstream) forward(ctx context.Context, fc *forwardCall) (uint32, bool) {
	w, r, log := fc.w, fc.r, fc.log
	var wr wireRequest
	var params map[string]string
	if u.native {
		var err error
		wr, err = u.encode(fc.ps, fc.body, fc.n)
		if err != nil {
			log.get().Info("reading the request body", zap.Error(err))
			http.Error(w, statusText(http.StatusBadRequest), http.StatusBadRequest)
			return 0, false
		}
		defer wr.release()
	} else {
		params = fc.ps.Map()
	}
	// A request the retry below would send again needs no check of an idle
	// connection before it goes (gofast's exchange is left as it was).
	mode := reuseChecked
	if u.native && idempotent(r.Method) && (fc.body == nil || fc.sp != nil || wr.whole) {
		mode = reuseAny
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			mode = reuseNone
		}
		c, err := u.getConn(ctx, mode)
		if err != nil {
			if ctx.Err() == nil {
				u.failed(err)
			}
			u.unavailable(w, err, fc.outcome, log)
			return 0, false
		}
		if err := ctx.Err(); err != nil {
			// The client went away while the request waited for its
			// connection (the queue looks at the context only every
			// watchDelay): the upstream is not asked, and the connection
			// goes to the next request at once.
			u.putConn(c, true, OutcomeCanceled)
			setOutcome(fc.outcome, OutcomeCanceled)
			u.fail(w, r, exchanged{outcome: OutcomeCanceled, cause: err}, log)
			return 0, false
		}
		if info := handler.InfoFrom(ctx); info != nil {
			info.QueueWaited(c.waited)
			info.UpstreamConnected(u.name, c.dialed)
		}

		var ex exchanged
		if u.native {
			ex = u.exchangeNative(ctx, c, w, r, fc.env, &wr, log)
		} else {
			ex = u.exchange(ctx, c, w, r, params, fc.body, log)
		}
		replayable := fc.body == nil || fc.sp != nil || ex.bodyRead == 0 || wr.whole
		if ex.stale && attempt == 0 && replayable && (idempotent(r.Method) || ex.st.writeErr != nil) {
			u.putConn(c, false, OutcomeCanceled)
			if fc.sp != nil && !wr.whole {
				if err := fc.sp.rewind(); err != nil {
					log.get().Error("retrying", zap.Error(err))
					setOutcome(fc.outcome, OutcomeProtocol)
					http.Error(w, statusText(http.StatusBadGateway), http.StatusBadGateway)
					return 0, false
				}
			}
			if po := u.obs; po != nil {
				po.Retried()
			}
			log.get().Debug("connection closed by the upstream; retrying on a new one",
				zap.NamedError("read", ex.st.readErr), zap.NamedError("write", ex.st.writeErr))
			continue
		}
		u.putConn(c, ex.reusable, ex.outcome)
		setOutcome(fc.outcome, ex.outcome)
		if ex.outcome != OutcomeOK {
			if ex.outcome != OutcomeCanceled {
				u.failed(ex.cause)
			}
			u.fail(w, r, ex, log)
			return 0, false
		}
		if ex.redirect != "" {
			// Served after the connection went back: the redirect may
			// need one.
			u.localRedirect(w, r, fc.env, ex.redirect, log)
		}
		return ex.st.appStatus, true
	}
}

func (u *Upstream) getConn(ctx context.Context, mode reuse) (*upstreamConn, error) {
	if u.fleet != nil {
		return u.fleet.get(ctx, mode)
	}
	return u.pool.get(ctx, mode)
}

// putConn gives c back after a request that ended with outcome, which
// tells a fleet's balancer how the address did.
func (u *Upstream) putConn(c *upstreamConn, keep bool, outcome Outcome) {
	if c.member != nil {
		u.fleet.put(c, keep, outcome)
		return
	}
	u.pool.put(c, keep)
}

// failed records a failure for the status page.
func (u *Upstream) failed(err error) {
	if u.fleet != nil {
		u.fleet.failed(err)
		return
	}
	u.pool.failed(err)
}
