package daemon

import (
	"net"
	"net/http"

	"github.com/gatewayd/gatewayd/app/cgiscript"
	"github.com/gatewayd/gatewayd/app/fcgiupstream"
	"github.com/gatewayd/gatewayd/observe/metrics"
	"github.com/gatewayd/gatewayd/observe/status"
	"github.com/gatewayd/gatewayd/routes"
)

// statusRoutes describes a route table for the status page, with the pool
// numbers of its cgi and fastcgi apps, which those read from atomics.
func statusRoutes(a *routes.Table) []status.Route {
	rs := make([]status.Route, 0, len(a.Routes()))
	for _, r := range a.Routes() {
		sr := status.Route{Prefix: r.Prefix, App: r.Kind}
		switch app := r.App.(type) {
		case *cgiscript.Runner:
			sr.Pool = func() status.Pool {
				s := app.Stats()
				return status.Pool{Limit: s.MaxConcurrency, Busy: s.Running, QueueSize: s.QueueSize, Waiting: s.Queued}
			}
		case *fcgiupstream.Upstream:
			sr.Pool = func() status.Pool {
				s := app.Stats()
				// The wait for a connection is bounded by upstream_timeout,
				// not by a queue length.
				return status.Pool{Limit: s.MaxConns, Busy: s.InUse, QueueSize: s.QueueSize, Waiting: s.Waiting}
			}
			sr.Upstream = func() status.Upstream {
				s := app.Stats()
				return status.Upstream{Address: s.Upstream, MaxConns: s.MaxConns, InUse: s.InUse, Waiting: s.Waiting,
					Health: s.Health.String(), LastError: s.LastError, LastErrorAt: s.LastErrorAt}
			}
		}
		rs = append(rs, sr)
	}
	return rs
}

// withStatus serves the status page at status.Path beside what h serves.
func withStatus(h http.Handler, st *status.Registry) http.Handler {
	page := st.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == status.Path {
			page.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// addrString is how the status page shows a listener's address: as the
// config spells it.
func addrString(a net.Addr) string {
	if a.Network() == "unix" {
		return "unix:" + a.String()
	}
	return a.String()
}

// connCounters counts a listener's connections for its metrics (nil when
// off) and its status-page row. As the FastCGI front end's Observer it
// passes refusals and aborts to the metrics as they are.
type connCounters struct {
	*metrics.Listener
	s *status.Listener
}

// ConnOpened counts an accepted connection.
func (c connCounters) ConnOpened() {
	c.Listener.ConnOpened()
	c.s.ConnOpened()
}

// ConnClosed counts a closed connection that carried requests requests
// (negative: not known).
func (c connCounters) ConnClosed(requests int) {
	c.Listener.ConnClosed(requests)
	c.s.ConnClosed(requests)
}
