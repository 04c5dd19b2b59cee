package metrics

import (
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatewayd/gatewayd/core/handler"
)

// DefaultPath is where Handler serves metrics when path is empty.
const DefaultPath = "/metrics"

// Handler returns the handler of the metrics listener:
//
//   - path (DefaultPath when empty): the Prometheus exposition of the
//     registry given to New, text or OpenMetrics as the scraper asks;
//   - /healthz: 200 "ok" for as long as the process serves;
//   - /readyz: 200 "ok" when ready returns nil (or ready is nil), else 503
//     with the error's text;
//   - anything else: 404.
//
// The health endpoints answer every method; HEAD gets no body.
func (m *Metrics) Handler(path string, ready func() error) http.Handler {
	if path == "" {
		path = DefaultPath
	}
	metrics := promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{
		// A scrape that fails to gather answers 500 rather than a partial
		// page that would look like vanished series.
		ErrorHandling:       promhttp.HTTPErrorOnError,
		MaxRequestsInFlight: 4,
		EnableOpenMetrics:   true,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case path:
			metrics.ServeHTTP(w, r)
		case "/healthz":
			plain(w, r, http.StatusOK, "ok\n")
		case "/readyz":
			if ready != nil {
				if err := ready(); err != nil {
					plain(w, r, http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
					return
				}
			}
			plain(w, r, http.StatusOK, "ok\n")
		default:
			handler.Error(w, http.StatusNotFound)
		}
	})
}

func plain(w http.ResponseWriter, r *http.Request, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, body)
	}
}
