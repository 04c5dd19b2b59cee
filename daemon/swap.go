package daemon

import (
	"net/http"
	"sync/atomic"

	"github.com/gatewayd/gatewayd/app/cgiscript"
	"github.com/gatewayd/gatewayd/app/fcgiupstream"
	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/routes"
)

// buildApps builds what the daemon serves: its Options.App, or the routes.
func (d *Daemon) buildApps(cfg *config.Config) (*routes.Table, error) {
	if d.opts.App != nil {
		h := d.opts.App
		if cfg.Validate {
			h = handler.Validate(h, routes.ValidationLogger(d.opts.Log))
		}
		return &routes.Table{Handler: h}, nil
	}
	var obs routes.Observers
	if d.metrics != nil {
		obs = appMetrics{d}
	}
	return routes.Build(cfg, d.opts.Log, obs, routes.WithGofast(Gofast))
}

// appMetrics makes the apps' observers from the daemon's metrics.
type appMetrics struct{ d *Daemon }

func (m appMetrics) CGI(prefix string) cgiscript.Observer {
	return m.d.metrics.CGI(prefix)
}

func (m appMetrics) Upstream(prefix string) fcgiupstream.Observer {
	return m.d.metrics.Upstream(prefix)
}

var _ routes.Observers = appMetrics{}

// swapApp is the app every front end's handler runs: reload replaces what it
// points to without touching connections.
type swapApp struct {
	p atomic.Pointer[http.Handler]
}

func (s *swapApp) set(h http.Handler) { s.p.Store(&h) }

func (s *swapApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.p.Load()).ServeHTTP(w, r)
}
