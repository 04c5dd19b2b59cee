package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/observe/metrics"
)

func ExampleNew() {
	reg := prometheus.NewRegistry() // one per daemon, never the global one
	m := metrics.New(reg, metrics.BuildInfo{Version: "1.0.0"})

	// One Observer per listener, set on the listener's core Handler.
	h := &handler.Handler{
		App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info := handler.InfoFrom(r.Context()) // the router fills these in
			info.Route, info.App = "/hello", "demo"
			io.WriteString(w, "hello\n")
		}),
		Observer: m.Observer("main"),
	}
	env := environ.Env{"PATH_INFO": "/hello"}
	environ.SetupTestingDefaults(env)
	h.Serve(context.Background(), &handler.Request{Env: env, Protocol: "fastcgi"}, io.Discard)

	// The metrics listener serves m.Handler.
	rec := httptest.NewRecorder()
	m.Handler("/metrics", nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "gatewayd_requests_total") && strings.Contains(line, `code="2xx"`) {
			fmt.Println(line)
		}
	}
	// Output:
	// gatewayd_requests_total{app="demo",code="2xx",listener="main",protocol="fastcgi",route="/hello"} 1
}
