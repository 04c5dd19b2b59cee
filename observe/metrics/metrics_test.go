package metrics

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/event"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

func newTest(t testing.TB) (*prometheus.Registry, *Metrics) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	return reg, New(reg, BuildInfo{Version: "1.2.3", GoVersion: "go1.26.8"})
}

func env(method, pathInfo string, body string) environ.Env {
	e := environ.Env{"REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": pathInfo,
		"QUERY_STRING": "token=secret", "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost",
		"SERVER_PORT": "80", "REMOTE_ADDR": "192.0.2.7", "GATEWAY_INTERFACE": "CGI/1.1"}
	if body != "" {
		e["CONTENT_LENGTH"] = "3"
	}
	return e
}

// testApp plays the router: paths under /api and /cgi-bin belong to routes.
func testApp(inApp func()) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := handler.InfoFrom(r.Context())
		if inApp != nil {
			inApp()
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/api"):
			info.Route, info.App = "/api", "demo"
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "got "+string(b))
		case r.URL.Path == "/cgi-bin/boom":
			info.Route, info.App = "/cgi-bin", "cgi"
			panic("boom")
		case r.URL.Path == "/cgi-bin/cut":
			info.Route, info.App = "/cgi-bin", "cgi"
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "part")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case r.URL.Path == "/early":
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	})
}

func TestRequestMetricsThroughTheCoreHandler(t *testing.T) {
	reg, m := newTest(t)
	inFlight := m.inFlight.WithLabelValues("fastcgi", "main")
	var during []float64
	h := &handler.Handler{App: testApp(func() { during = append(during, testutil.ToFloat64(inFlight)) }),
		Observer: m.Observer("main")}

	for i := 0; i < 3; i++ {
		if _, res := gwtest.Run(t, h, "fastcgi", env("POST", "/api/x", "abc"), "abc"); res.Status != 200 || res.BytesIn != 3 || res.BytesOut != 7 { // "got abc"
			t.Fatalf("api: %+v", res)
		}
	}
	if _, res := gwtest.Run(t, h, "fastcgi", env("GET", "/nowhere", ""), ""); res.Status != 404 {
		t.Fatalf("404: %+v", res)
	}
	if _, res := gwtest.Run(t, h, "fastcgi", env("GET", "/cgi-bin/boom", ""), ""); res.Status != 500 {
		t.Fatalf("boom: %+v", res)
	}
	if _, res := gwtest.Run(t, h, "fastcgi", env("GET", "/cgi-bin/cut", ""), ""); !res.Incomplete() {
		t.Fatalf("cut: %+v", res)
	}
	if _, res := gwtest.Run(t, h, "fastcgi", env("GET", "/early", ""), ""); res.Status != 204 {
		t.Fatalf("early: %+v", res)
	}
	// Another listener of another protocol shares the registry.
	h2 := &handler.Handler{App: testApp(nil), Observer: m.Observer("web"), OriginServer: true}
	gwtest.Run(t, h2, "http", env("GET", "/api/y", ""), "")

	for i, v := range during {
		if v != 1 {
			t.Errorf("request %d: in flight %v while the app ran, want 1", i, v)
		}
	}
	want := `
# HELP gatewayd_requests_total Requests finished, by front end protocol, listener, route prefix, app kind and status class (1xx to 5xx).
# TYPE gatewayd_requests_total counter
gatewayd_requests_total{app="cgi",code="2xx",listener="main",protocol="fastcgi",route="/cgi-bin"} 1
gatewayd_requests_total{app="cgi",code="3xx",listener="main",protocol="fastcgi",route="/cgi-bin"} 0
gatewayd_requests_total{app="cgi",code="4xx",listener="main",protocol="fastcgi",route="/cgi-bin"} 0
gatewayd_requests_total{app="cgi",code="5xx",listener="main",protocol="fastcgi",route="/cgi-bin"} 1
gatewayd_requests_total{app="demo",code="2xx",listener="main",protocol="fastcgi",route="/api"} 3
gatewayd_requests_total{app="demo",code="3xx",listener="main",protocol="fastcgi",route="/api"} 0
gatewayd_requests_total{app="demo",code="4xx",listener="main",protocol="fastcgi",route="/api"} 0
gatewayd_requests_total{app="demo",code="5xx",listener="main",protocol="fastcgi",route="/api"} 0
gatewayd_requests_total{app="demo",code="2xx",listener="web",protocol="http",route="/api"} 1
gatewayd_requests_total{app="demo",code="3xx",listener="web",protocol="http",route="/api"} 0
gatewayd_requests_total{app="demo",code="4xx",listener="web",protocol="http",route="/api"} 0
gatewayd_requests_total{app="demo",code="5xx",listener="web",protocol="http",route="/api"} 0
gatewayd_requests_total{app="none",code="2xx",listener="main",protocol="fastcgi",route="none"} 1
gatewayd_requests_total{app="none",code="3xx",listener="main",protocol="fastcgi",route="none"} 0
gatewayd_requests_total{app="none",code="4xx",listener="main",protocol="fastcgi",route="none"} 1
gatewayd_requests_total{app="none",code="5xx",listener="main",protocol="fastcgi",route="none"} 0
# HELP gatewayd_requests_in_flight Requests being served now.
# TYPE gatewayd_requests_in_flight gauge
gatewayd_requests_in_flight{listener="main",protocol="fastcgi"} 0
gatewayd_requests_in_flight{listener="web",protocol="http"} 0
# HELP gatewayd_request_body_bytes_total Request body bytes read by apps.
# TYPE gatewayd_request_body_bytes_total counter
gatewayd_request_body_bytes_total{listener="main",protocol="fastcgi"} 9
gatewayd_request_body_bytes_total{listener="web",protocol="http"} 0
# HELP gatewayd_response_body_bytes_total Response body bytes written to clients.
# TYPE gatewayd_response_body_bytes_total counter
gatewayd_response_body_bytes_total{listener="main",protocol="fastcgi"} 104
gatewayd_response_body_bytes_total{listener="web",protocol="http"} 4
# HELP gatewayd_response_truncated_total Responses cut short because the app failed after the head was sent.
# TYPE gatewayd_response_truncated_total counter
gatewayd_response_truncated_total{listener="main",protocol="fastcgi"} 1
gatewayd_response_truncated_total{listener="web",protocol="http"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"gatewayd_requests_total", "gatewayd_requests_in_flight", "gatewayd_request_body_bytes_total",
		"gatewayd_response_body_bytes_total", "gatewayd_response_truncated_total"); err != nil {
		t.Error(err)
	}

	// Durations are real time: check the counts per series and the sum.
	counts := map[string]uint64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatewayd_request_duration_seconds" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			var key []string
			for _, lp := range mt.GetLabel() {
				key = append(key, lp.GetName()+"="+lp.GetValue())
			}
			counts[strings.Join(key, ",")] = mt.GetHistogram().GetSampleCount()
			if s := mt.GetHistogram().GetSampleSum(); s <= 0 || s > 10 {
				t.Errorf("%v: duration sum %v", key, s)
			}
		}
	}
	wantCounts := map[string]uint64{
		"app=demo,listener=main,protocol=fastcgi,route=/api":    3,
		"app=demo,listener=web,protocol=http,route=/api":        1,
		"app=none,listener=main,protocol=fastcgi,route=none":    2,
		"app=cgi,listener=main,protocol=fastcgi,route=/cgi-bin": 2,
	}
	if len(counts) != len(wantCounts) {
		t.Errorf("duration series %v, want %v", counts, wantCounts)
	}
	for k, v := range wantCounts {
		if counts[k] != v {
			t.Errorf("duration count %s = %d, want %d", k, counts[k], v)
		}
	}
}

func TestRareStatusClasses(t *testing.T) {
	reg, m := newTest(t)
	o := m.Observer("l")
	for _, s := range []int{101, 0, 600} {
		info := &handler.Info{Protocol: "scgi", Route: "/a", App: "static"}
		o.Begin(nil, info)
		o.End(nil, info, &handler.Result{Status: s})
	}
	want := `
# HELP gatewayd_requests_total Requests finished, by front end protocol, listener, route prefix, app kind and status class (1xx to 5xx).
# TYPE gatewayd_requests_total counter
gatewayd_requests_total{app="static",code="1xx",listener="l",protocol="scgi",route="/a"} 1
gatewayd_requests_total{app="static",code="2xx",listener="l",protocol="scgi",route="/a"} 0
gatewayd_requests_total{app="static",code="3xx",listener="l",protocol="scgi",route="/a"} 0
gatewayd_requests_total{app="static",code="4xx",listener="l",protocol="scgi",route="/a"} 0
gatewayd_requests_total{app="static",code="5xx",listener="l",protocol="scgi",route="/a"} 0
gatewayd_requests_total{app="static",code="other",listener="l",protocol="scgi",route="/a"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gatewayd_requests_total"); err != nil {
		t.Error(err)
	}
}

func TestRequestSeriesAreBounded(t *testing.T) {
	_, m := newTest(t)
	o := m.Observer("l")
	// A misbehaving app that names routes from request data stays bounded.
	for i := 0; i < maxRequestSeries+50; i++ {
		info := &handler.Info{Protocol: "scgi", Route: fmt.Sprintf("/r%d", i), App: "static"}
		o.Begin(nil, info)
		o.End(nil, info, &handler.Result{Status: 200})
	}
	if n := testutil.CollectAndCount(m.requests); n != 4*maxRequestSeries+4 {
		t.Errorf("%d request series, want %d", n, 4*maxRequestSeries+4)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("scgi", "l", "other", "other", "2xx")); got != 50 {
		t.Errorf("overflow series has %v requests, want 50", got)
	}
}

func TestListenerMetrics(t *testing.T) {
	reg, m := newTest(t)
	l := m.Listener("fcgi", "fastcgi")
	l.ConnOpened()
	l.ConnOpened()
	l.ConnOpened()
	l.ConnClosed(1)
	l.ConnClosed(40)
	l.Refused("FCGI_OVERLOADED")
	l.Refused("overloaded")
	l.Refused("FCGI_CANT_MPX_CONN")
	l.Refused("FCGI_UNKNOWN_ROLE")
	l.Refused("protocolStatus 9")
	l.Aborted()
	m.Listener("web", "http").ConnClosed(-1) // unknown count: gauge only
	want := `
# HELP gatewayd_listener_open_connections Connections open now.
# TYPE gatewayd_listener_open_connections gauge
gatewayd_listener_open_connections{listener="fcgi",protocol="fastcgi"} 1
gatewayd_listener_open_connections{listener="web",protocol="http"} -1
# HELP gatewayd_listener_accepted_connections_total Connections accepted.
# TYPE gatewayd_listener_accepted_connections_total counter
gatewayd_listener_accepted_connections_total{listener="fcgi",protocol="fastcgi"} 3
gatewayd_listener_accepted_connections_total{listener="web",protocol="http"} 0
# HELP gatewayd_listener_requests_per_connection Requests a connection carried before it closed (FastCGI keep-alive and multiplexing).
# TYPE gatewayd_listener_requests_per_connection histogram
gatewayd_listener_requests_per_connection_bucket{listener="fcgi",protocol="fastcgi",le="1"} 1
gatewayd_listener_requests_per_connection_bucket{listener="fcgi",protocol="fastcgi",le="2"} 1
gatewayd_listener_requests_per_connection_bucket{listener="fcgi",protocol="fastcgi",le="5"} 1
gatewayd_listener_requests_per_connection_bucket{listener="fcgi",protocol="fastcgi",le="10"} 1
gatewayd_listener_requests_per_connection_bucket{listener="fcgi",protocol="fastcgi",le="25"} 1
gatewayd_listener_requests_per_connection_bucket{listener="fcgi",protocol="fastcgi",le="50"} 2
gatewayd_listener_requests_per_connection_bucket{listener="fcgi",protocol="fastcgi",le="100"} 2
gatewayd_listener_requests_per_connection_bucket{listener="fcgi",protocol="fastcgi",le="250"} 2
gatewayd_listener_requests_per_connection_bucket{listener="fcgi",protocol="fastcgi",le="500"} 2
gatewayd_listener_requests_per_connection_bucket{listener="fcgi",protocol="fastcgi",le="1000"} 2
gatewayd_listener_requests_per_connection_bucket{listener="fcgi",protocol="fastcgi",le="10000"} 2
gatewayd_listener_requests_per_connection_bucket{listener="fcgi",protocol="fastcgi",le="+Inf"} 2
gatewayd_listener_requests_per_connection_sum{listener="fcgi",protocol="fastcgi"} 41
gatewayd_listener_requests_per_connection_count{listener="fcgi",protocol="fastcgi"} 2
gatewayd_listener_requests_per_connection_bucket{listener="web",protocol="http",le="1"} 0
gatewayd_listener_requests_per_connection_bucket{listener="web",protocol="http",le="2"} 0
gatewayd_listener_requests_per_connection_bucket{listener="web",protocol="http",le="5"} 0
gatewayd_listener_requests_per_connection_bucket{listener="web",protocol="http",le="10"} 0
gatewayd_listener_requests_per_connection_bucket{listener="web",protocol="http",le="25"} 0
gatewayd_listener_requests_per_connection_bucket{listener="web",protocol="http",le="50"} 0
gatewayd_listener_requests_per_connection_bucket{listener="web",protocol="http",le="100"} 0
gatewayd_listener_requests_per_connection_bucket{listener="web",protocol="http",le="250"} 0
gatewayd_listener_requests_per_connection_bucket{listener="web",protocol="http",le="500"} 0
gatewayd_listener_requests_per_connection_bucket{listener="web",protocol="http",le="1000"} 0
gatewayd_listener_requests_per_connection_bucket{listener="web",protocol="http",le="10000"} 0
gatewayd_listener_requests_per_connection_bucket{listener="web",protocol="http",le="+Inf"} 0
gatewayd_listener_requests_per_connection_sum{listener="web",protocol="http"} 0
gatewayd_listener_requests_per_connection_count{listener="web",protocol="http"} 0
# HELP gatewayd_listener_aborted_requests_total Requests the peer abandoned before the response ended (FCGI_ABORT_REQUEST, client gone).
# TYPE gatewayd_listener_aborted_requests_total counter
gatewayd_listener_aborted_requests_total{listener="fcgi",protocol="fastcgi"} 1
gatewayd_listener_aborted_requests_total{listener="web",protocol="http"} 0
# HELP gatewayd_listener_refused_requests_total Requests refused without running an app, by reason (overloaded, cant_mpx_conn, unknown_role, other).
# TYPE gatewayd_listener_refused_requests_total counter
gatewayd_listener_refused_requests_total{listener="fcgi",protocol="fastcgi",reason="cant_mpx_conn"} 1
gatewayd_listener_refused_requests_total{listener="fcgi",protocol="fastcgi",reason="other"} 1
gatewayd_listener_refused_requests_total{listener="fcgi",protocol="fastcgi",reason="overloaded"} 2
gatewayd_listener_refused_requests_total{listener="fcgi",protocol="fastcgi",reason="unknown_role"} 1
gatewayd_listener_refused_requests_total{listener="web",protocol="http",reason="cant_mpx_conn"} 0
gatewayd_listener_refused_requests_total{listener="web",protocol="http",reason="other"} 0
gatewayd_listener_refused_requests_total{listener="web",protocol="http",reason="overloaded"} 0
gatewayd_listener_refused_requests_total{listener="web",protocol="http",reason="unknown_role"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"gatewayd_listener_open_connections", "gatewayd_listener_accepted_connections_total",
		"gatewayd_listener_requests_per_connection", "gatewayd_listener_aborted_requests_total",
		"gatewayd_listener_refused_requests_total"); err != nil {
		t.Error(err)
	}
}

func TestCGIMetrics(t *testing.T) {
	reg, m := newTest(t)
	c := m.CGI("/cgi-bin")
	c.ScriptStarted("hello.cgi")
	c.ScriptStarted("hello.cgi")
	c.ScriptStarted("hello.cgi")
	c.ScriptEnded("hello.cgi", "ok", 20*time.Millisecond)
	c.ScriptEnded("hello.cgi", "timeout", 2*time.Second)
	c.ScriptTimedOut("hello.cgi")
	c.ScriptKilled("hello.cgi")
	c.QueueWait(0)
	c.QueueWait(300 * time.Millisecond)
	c.Rejected("queue_full")
	c.Rejected("queue_timeout")
	c.Rejected("who knows")
	c.StderrLine("hello.cgi")
	c.StderrLine("hello.cgi")
	if again := m.CGI("/cgi-bin"); again == nil {
		t.Fatal("nil")
	}
	want := `
# HELP gatewayd_cgi_scripts_running CGI script processes running now.
# TYPE gatewayd_cgi_scripts_running gauge
gatewayd_cgi_scripts_running{route="/cgi-bin"} 1
# HELP gatewayd_cgi_scripts_started_total CGI script processes started.
# TYPE gatewayd_cgi_scripts_started_total counter
gatewayd_cgi_scripts_started_total{route="/cgi-bin"} 3
# HELP gatewayd_cgi_script_exits_total CGI script processes reaped, by how they ended (ok, error, signal, timeout, canceled, other).
# TYPE gatewayd_cgi_script_exits_total counter
gatewayd_cgi_script_exits_total{class="canceled",route="/cgi-bin"} 0
gatewayd_cgi_script_exits_total{class="error",route="/cgi-bin"} 0
gatewayd_cgi_script_exits_total{class="ok",route="/cgi-bin"} 1
gatewayd_cgi_script_exits_total{class="other",route="/cgi-bin"} 0
gatewayd_cgi_script_exits_total{class="signal",route="/cgi-bin"} 0
gatewayd_cgi_script_exits_total{class="timeout",route="/cgi-bin"} 1
# HELP gatewayd_cgi_scripts_timed_out_total CGI scripts stopped because they ran past their timeout.
# TYPE gatewayd_cgi_scripts_timed_out_total counter
gatewayd_cgi_scripts_timed_out_total{route="/cgi-bin"} 1
# HELP gatewayd_cgi_scripts_killed_total CGI scripts that needed SIGKILL after the grace period.
# TYPE gatewayd_cgi_scripts_killed_total counter
gatewayd_cgi_scripts_killed_total{route="/cgi-bin"} 1
# HELP gatewayd_cgi_queue_wait_seconds Time a request waited for a free script slot, in seconds.
# TYPE gatewayd_cgi_queue_wait_seconds histogram
gatewayd_cgi_queue_wait_seconds_bucket{route="/cgi-bin",le="0.001"} 1
gatewayd_cgi_queue_wait_seconds_bucket{route="/cgi-bin",le="0.005"} 1
gatewayd_cgi_queue_wait_seconds_bucket{route="/cgi-bin",le="0.01"} 1
gatewayd_cgi_queue_wait_seconds_bucket{route="/cgi-bin",le="0.05"} 1
gatewayd_cgi_queue_wait_seconds_bucket{route="/cgi-bin",le="0.1"} 1
gatewayd_cgi_queue_wait_seconds_bucket{route="/cgi-bin",le="0.25"} 1
gatewayd_cgi_queue_wait_seconds_bucket{route="/cgi-bin",le="0.5"} 2
gatewayd_cgi_queue_wait_seconds_bucket{route="/cgi-bin",le="1"} 2
gatewayd_cgi_queue_wait_seconds_bucket{route="/cgi-bin",le="2.5"} 2
gatewayd_cgi_queue_wait_seconds_bucket{route="/cgi-bin",le="5"} 2
gatewayd_cgi_queue_wait_seconds_bucket{route="/cgi-bin",le="10"} 2
gatewayd_cgi_queue_wait_seconds_bucket{route="/cgi-bin",le="+Inf"} 2
gatewayd_cgi_queue_wait_seconds_sum{route="/cgi-bin"} 0.3
gatewayd_cgi_queue_wait_seconds_count{route="/cgi-bin"} 2
# HELP gatewayd_cgi_rejected_requests_total Requests answered 503 without running a script, by reason (queue_full, queue_timeout, shutdown, other).
# TYPE gatewayd_cgi_rejected_requests_total counter
gatewayd_cgi_rejected_requests_total{reason="other",route="/cgi-bin"} 1
gatewayd_cgi_rejected_requests_total{reason="queue_full",route="/cgi-bin"} 1
gatewayd_cgi_rejected_requests_total{reason="queue_timeout",route="/cgi-bin"} 1
gatewayd_cgi_rejected_requests_total{reason="shutdown",route="/cgi-bin"} 0
# HELP gatewayd_cgi_stderr_lines_total Lines CGI scripts wrote to stderr.
# TYPE gatewayd_cgi_stderr_lines_total counter
gatewayd_cgi_stderr_lines_total{route="/cgi-bin"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"gatewayd_cgi_scripts_running", "gatewayd_cgi_scripts_started_total", "gatewayd_cgi_script_exits_total",
		"gatewayd_cgi_scripts_timed_out_total", "gatewayd_cgi_scripts_killed_total", "gatewayd_cgi_queue_wait_seconds",
		"gatewayd_cgi_rejected_requests_total", "gatewayd_cgi_stderr_lines_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.cgiDuration); n != 1 {
		t.Errorf("%d script duration series", n)
	}
	if s := histogramSum(t, reg, "gatewayd_cgi_script_duration_seconds"); s != 2.02 {
		t.Errorf("script duration sum %v, want 2.02", s)
	}
}

func TestUpstreamMetrics(t *testing.T) {
	reg, m := newTest(t)
	u := m.Upstream("/php")
	u.Pool(1, 1)
	u.Pool(3, 4)
	for _, o := range []event.Forward{"ok", "ok", "canceled", "connect", "timeout", "timeout", "protocol", "weird"} {
		u.Request(o, 10*time.Millisecond)
	}
	want := `
# HELP gatewayd_upstream_requests_total Requests forwarded to a FastCGI upstream.
# TYPE gatewayd_upstream_requests_total counter
gatewayd_upstream_requests_total{route="/php"} 8
# HELP gatewayd_upstream_errors_total Forwarded requests that failed, by kind (connect, timeout, protocol, other).
# TYPE gatewayd_upstream_errors_total counter
gatewayd_upstream_errors_total{kind="connect",route="/php"} 1
gatewayd_upstream_errors_total{kind="other",route="/php"} 1
gatewayd_upstream_errors_total{kind="protocol",route="/php"} 1
gatewayd_upstream_errors_total{kind="timeout",route="/php"} 2
# HELP gatewayd_upstream_pool_connections Connections to the FastCGI upstream open now, idle or in use.
# TYPE gatewayd_upstream_pool_connections gauge
gatewayd_upstream_pool_connections{route="/php"} 4
# HELP gatewayd_upstream_pool_connections_in_use Connections to the FastCGI upstream carrying a request now.
# TYPE gatewayd_upstream_pool_connections_in_use gauge
gatewayd_upstream_pool_connections_in_use{route="/php"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"gatewayd_upstream_requests_total", "gatewayd_upstream_errors_total",
		"gatewayd_upstream_pool_connections", "gatewayd_upstream_pool_connections_in_use"); err != nil {
		t.Error(err)
	}
	if s := histogramSum(t, reg, "gatewayd_upstream_request_duration_seconds"); s < 0.0799 || s > 0.0801 {
		t.Errorf("upstream duration sum %v, want 0.08", s)
	}
}

func TestConfigReloadMetrics(t *testing.T) {
	reg, m := newTest(t)
	t0 := time.Unix(1_700_000_000, 0)
	const head = `
# HELP gatewayd_config_reloads_total Config reloads, by result (success, failure).
# TYPE gatewayd_config_reloads_total counter
gatewayd_config_reloads_total{result="failure"} %d
gatewayd_config_reloads_total{result="success"} %d
# HELP gatewayd_config_last_reload_successful 1 if the last config load or reload succeeded, 0 if it failed.
# TYPE gatewayd_config_last_reload_successful gauge
gatewayd_config_last_reload_successful %d
# HELP gatewayd_config_last_reload_success_timestamp_seconds Unix time of the last successful config load or reload, in seconds.
# TYPE gatewayd_config_last_reload_success_timestamp_seconds gauge
gatewayd_config_last_reload_success_timestamp_seconds %s
`
	check := func(step string, fail, ok, last int, ts string) {
		t.Helper()
		want := strings.NewReader(sprintf(head, fail, ok, last, ts))
		if err := testutil.GatherAndCompare(reg, want, "gatewayd_config_reloads_total",
			"gatewayd_config_last_reload_successful", "gatewayd_config_last_reload_success_timestamp_seconds"); err != nil {
			t.Errorf("%s: %v", step, err)
		}
	}
	check("before load", 0, 0, 0, "0")
	m.ConfigLoaded(t0)
	check("loaded", 0, 0, 1, "1.7e+09")
	m.ConfigReloaded(t0.Add(90*time.Second), errors.New("bad yaml"))
	check("failed reload", 1, 0, 0, "1.7e+09")
	m.ConfigReloaded(t0.Add(100*time.Second+500*time.Millisecond), nil)
	check("good reload", 1, 1, 1, "1.7000001005e+09")
}

func TestBuildInfo(t *testing.T) {
	reg, _ := newTest(t)
	want := `
# HELP gatewayd_build_info Always 1; the labels name the version of gatewayd and of Go that built it.
# TYPE gatewayd_build_info gauge
gatewayd_build_info{goversion="go1.26.8",version="1.2.3"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gatewayd_build_info"); err != nil {
		t.Error(err)
	}
	names := map[string]bool{}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_open_fds", "process_resident_memory_bytes"} {
		if !names[n] {
			t.Errorf("runtime/process metric %s missing", n)
		}
	}

	reg2 := prometheus.NewRegistry()
	New(reg2, BuildInfo{})
	if err := testutil.GatherAndCompare(reg2, strings.NewReader(sprintf(`
# HELP gatewayd_build_info Always 1; the labels name the version of gatewayd and of Go that built it.
# TYPE gatewayd_build_info gauge
gatewayd_build_info{goversion="%s",version="unknown"} 1
`, goVersion())), "gatewayd_build_info"); err != nil {
		t.Error(err)
	}
}

func TestNewTwiceOnOneRegistryPanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, BuildInfo{})
	defer func() {
		if recover() == nil {
			t.Error("no panic on a second New on one registry")
		}
	}()
	New(reg, BuildInfo{})
}

func TestHandlerEndpoints(t *testing.T) {
	_, m := newTest(t)
	var notReady error = errors.New("listeners not open")
	h := m.Handler("/custom/metrics", func() error { return notReady })
	get := func(method, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Code, rec.Body.String()
	}
	tests := []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/healthz", 200, "ok\n"},
		{"HEAD", "/healthz", 200, ""},
		{"GET", "/readyz", 503, "not ready: listeners not open\n"},
		{"GET", "/metrics", 404, "404 Not Found\n"},
		{"GET", "/", 404, "404 Not Found\n"},
	}
	for _, tc := range tests {
		if code, body := get(tc.method, tc.path); code != tc.code || body != tc.body {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, code, body, tc.code, tc.body)
		}
	}
	notReady = nil
	if code, body := get("GET", "/readyz"); code != 200 || body != "ok\n" {
		t.Errorf("ready: %d %q", code, body)
	}
	code, body := get("GET", "/custom/metrics")
	if code != 200 || !strings.Contains(body, "# TYPE gatewayd_build_info gauge\ngatewayd_build_info{") {
		t.Errorf("metrics: %d %.200q", code, body)
	}

	// Defaults: the metrics path and no readiness check.
	h = m.Handler("", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "gatewayd_build_info") {
		t.Errorf("default path: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 {
		t.Errorf("nil ready: %d", rec.Code)
	}
}

// onlyRegisterer hides the Gatherer side of a registry.
type onlyRegisterer struct{ prometheus.Registerer }

func TestHandlerWithoutGatherer(t *testing.T) {
	m := New(onlyRegisterer{prometheus.NewRegistry()}, BuildInfo{})
	rec := httptest.NewRecorder()
	m.Handler("", nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), ErrNotGatherer.Error()) {
		t.Errorf("%d %q", rec.Code, rec.Body.String())
	}
}

func histogramSum(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, mt := range mf.GetMetric() {
				sum += mt.GetHistogram().GetSampleSum()
			}
		}
	}
	return sum
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

func goVersion() string { return runtime.Version() }

func TestObserverConcurrent(t *testing.T) {
	reg, m := newTest(t)
	const workers, each = 8, 200
	routes := []string{"/a", "/b", ""}
	done := make(chan struct{})
	for w := 0; w < workers; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			o := m.Observer("main") // several observers of one listener share series
			for i := 0; i < each; i++ {
				proto := "fastcgi"
				if i%5 == 0 {
					proto = "scgi"
				}
				info := &handler.Info{Protocol: proto, Route: routes[i%len(routes)], App: "demo"}
				o.Begin(nil, info)
				o.End(nil, info, &handler.Result{Status: 200 + (i%4)*100, BytesOut: 1})
			}
		}()
	}
	for w := 0; w < workers; w++ {
		<-done
	}
	var total, out, inFlight float64
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			switch mf.GetName() {
			case "gatewayd_requests_total":
				total += mt.GetCounter().GetValue()
			case "gatewayd_response_body_bytes_total":
				out += mt.GetCounter().GetValue()
			case "gatewayd_requests_in_flight":
				inFlight += mt.GetGauge().GetValue()
			}
		}
	}
	if total != workers*each || out != workers*each || inFlight != 0 {
		t.Errorf("requests %v, bytes %v, in flight %v; want %d, %d, 0", total, out, inFlight, workers*each, workers*each)
	}
}

// TestNilListener: with metrics off the daemon hands the FastCGI front end
// a nil *Listener inside its connection counters; every Observer method
// must then record nothing rather than panic.
func TestNilListener(t *testing.T) {
	var l *Listener
	l.ConnOpened()
	l.ConnClosed(3)
	l.Refused(event.RefuseOverloaded)
	l.ConnRefused()
	l.Aborted()
}
