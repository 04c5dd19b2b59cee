package metrics

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/gatewayd/gatewayd/core/event"
)

const namespace = "gatewayd"

// none is the label value of an empty protocol, route or app (a request no
// route matched), and other the value that stands for anything outside a
// label's fixed set.
const (
	none  = "none"
	other = "other"
)

// maxRequestSeries bounds the distinct (listener, protocol, route, app)
// combinations the request metrics take; beyond it route and app are
// "other". Routes come from the config, so only a misbehaving app that
// writes Info.Route from request data could reach it.
const maxRequestSeries = 1000

// ErrNotGatherer is what the metrics path answers (with status 500) when the
// registry given to New cannot be gathered.
var ErrNotGatherer = errors.New("metrics: the registry is not a prometheus.Gatherer")

// Bucket layouts, in seconds or counts.
var (
	durationBuckets  = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	queueWaitBuckets = []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10}
	perConnBuckets   = []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 10000}
)

// The fixed value sets of the reason, class and kind labels, in the words
// of core/event, which the apps and front ends report. Which words a
// metric takes, and that each exists from the start, is the metric's
// contract (docs/metrics.md); anything else counts as "other".
var (
	refuseReasons     = []string{string(event.RefuseOverloaded), string(event.RefuseCantMpxConn), string(event.RefuseUnknownRole)}
	cgiExitClasses    = []string{string(event.ExitOK), string(event.ExitError), string(event.ExitSignal), string(event.ExitTimeout), string(event.ExitCanceled)}
	cgiRejectReasons  = []string{string(event.RejectQueueFull), string(event.RejectQueueTimeout), string(event.RejectShutdown)}
	upstreamErrKinds  = []string{string(event.ForwardConnect), string(event.ForwardTimeout), string(event.ForwardProtocol)}
	upstreamOKOutcome = []string{string(event.ForwardOK), string(event.ForwardCanceled), string(event.ForwardBusy)}
	upRejectReasons   = []string{string(event.RejectQueueFull), string(event.RejectQueueTimeout)}
)

// BuildInfo is what gatewayd_build_info reports.
type BuildInfo struct {
	// Version is gatewayd's version. Empty means "unknown".
	Version string
	// GoVersion is the Go release that built the binary. Empty means
	// runtime.Version().
	GoVersion string
}

// Metrics holds gatewayd's collectors, registered on one registry. It is
// safe for concurrent use. Create it with New.
type Metrics struct {
	gatherer prometheus.Gatherer

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	inFlight      *prometheus.GaugeVec
	bytesIn       *prometheus.CounterVec
	bytesOut      *prometheus.CounterVec
	truncated     *prometheus.CounterVec
	requestSeries sync.Map // requestKey → *requestSeries
	seriesMu      sync.Mutex
	seriesCount   int

	connsOpen     *prometheus.GaugeVec
	connsAccepted *prometheus.CounterVec
	reqsPerConn   *prometheus.HistogramVec
	aborted       *prometheus.CounterVec
	refused       *prometheus.CounterVec
	connsRefused  *prometheus.CounterVec

	cgiRunning   *prometheus.GaugeVec
	cgiStarted   *prometheus.CounterVec
	cgiExits     *prometheus.CounterVec
	cgiDuration  *prometheus.HistogramVec
	cgiTimedOut  *prometheus.CounterVec
	cgiKilled    *prometheus.CounterVec
	cgiQueueWait *prometheus.HistogramVec
	cgiRejected  *prometheus.CounterVec
	cgiStderr    *prometheus.CounterVec

	upRequests *prometheus.CounterVec
	upErrors   *prometheus.CounterVec
	upDuration *prometheus.HistogramVec
	upOpen     *prometheus.GaugeVec
	upInUse    *prometheus.GaugeVec
	upMaxConns *prometheus.GaugeVec
	upUp       *prometheus.GaugeVec
	upWait     *prometheus.HistogramVec
	upRejected *prometheus.CounterVec
	upRetries  *prometheus.CounterVec

	reloads         *prometheus.CounterVec
	reloadOK        prometheus.Gauge
	reloadOKSeconds prometheus.Gauge
}

// New creates gatewayd's metrics and registers them, with the Go runtime and
// process collectors and gatewayd_build_info, on reg. reg is usually a fresh
// *prometheus.Registry; [Metrics.Handler] serves what it gathers, and
// answers 500 with [ErrNotGatherer] if reg cannot be gathered (a wrapping
// Registerer). New panics if reg already holds any of these collectors (a
// programming error: one Metrics per registry).
func New(reg prometheus.Registerer, build BuildInfo) *Metrics {
	m := &Metrics{}
	if g, ok := reg.(prometheus.Gatherer); ok {
		m.gatherer = g
	} else {
		m.gatherer = prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return nil, ErrNotGatherer })
	}
	counter := func(sub, name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: sub, Name: name, Help: help}, labels)
		reg.MustRegister(v)
		return v
	}
	gauge := func(sub, name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: sub, Name: name, Help: help}, labels)
		reg.MustRegister(v)
		return v
	}
	histogram := func(sub, name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: sub, Name: name, Help: help, Buckets: buckets}, labels)
		reg.MustRegister(v)
		return v
	}

	m.requests = counter("", "requests_total",
		"Requests finished, by front end protocol, listener, route prefix, app kind and status class (1xx to 5xx).",
		"protocol", "listener", "route", "app", "code")
	m.duration = histogram("request", "duration_seconds",
		"Time from the start of a request to the end of its response, in seconds.",
		durationBuckets, "protocol", "listener", "route", "app")
	m.inFlight = gauge("", "requests_in_flight",
		"Requests being served now.", "protocol", "listener")
	m.bytesIn = counter("request", "body_bytes_total",
		"Request body bytes read by apps.", "protocol", "listener")
	m.bytesOut = counter("response", "body_bytes_total",
		"Response body bytes written to clients.", "protocol", "listener")
	m.truncated = counter("response", "truncated_total",
		"Responses cut short because the app failed after the head was sent.", "protocol", "listener")

	m.connsOpen = gauge("listener", "open_connections",
		"Connections open now.", "listener", "protocol")
	m.connsAccepted = counter("listener", "accepted_connections_total",
		"Connections accepted.", "listener", "protocol")
	m.reqsPerConn = histogram("listener", "requests_per_connection",
		"Requests a connection carried before it closed (FastCGI keep-alive and multiplexing).",
		perConnBuckets, "listener", "protocol")
	m.aborted = counter("listener", "aborted_requests_total",
		"Requests the peer abandoned before the response ended (FCGI_ABORT_REQUEST, client gone).",
		"listener", "protocol")
	m.connsRefused = counter("listener", "refused_connections_total",
		"Connections over max_conns, closed or answered overloaded without serving a request.",
		"listener", "protocol")
	m.refused = counter("listener", "refused_requests_total",
		"Requests refused without running an app, by reason (overloaded, cant_mpx_conn, unknown_role, other).",
		"listener", "protocol", "reason")

	m.cgiRunning = gauge("cgi", "scripts_running",
		"CGI script processes running now.", "route")
	m.cgiStarted = counter("cgi", "scripts_started_total",
		"CGI script processes started.", "route")
	m.cgiExits = counter("cgi", "script_exits_total",
		"CGI script processes reaped, by how they ended (ok, error, signal, timeout, canceled, other).",
		"route", "class")
	m.cgiDuration = histogram("cgi", "script_duration_seconds",
		"Run time of CGI script processes, from start to reaping, in seconds.",
		durationBuckets, "route")
	m.cgiTimedOut = counter("cgi", "scripts_timed_out_total",
		"CGI scripts stopped because they ran past their timeout.", "route")
	m.cgiKilled = counter("cgi", "scripts_killed_total",
		"CGI scripts that needed SIGKILL after the grace period.", "route")
	m.cgiQueueWait = histogram("cgi", "queue_wait_seconds",
		"Time a request waited for a free script slot, in seconds.",
		queueWaitBuckets, "route")
	m.cgiRejected = counter("cgi", "rejected_requests_total",
		"Requests answered 503 without running a script, by reason (queue_full, queue_timeout, shutdown, other).",
		"route", "reason")
	m.cgiStderr = counter("cgi", "stderr_lines_total",
		"Lines CGI scripts wrote to stderr.", "route")

	m.upRequests = counter("upstream", "requests_total",
		"Requests forwarded to a FastCGI upstream.", "route")
	m.upErrors = counter("upstream", "errors_total",
		"Forwarded requests that failed, by kind (connect, timeout, protocol, other).", "route", "kind")
	m.upDuration = histogram("upstream", "request_duration_seconds",
		"Time a forwarded request took, from getting a connection to the end of the upstream's answer, in seconds.",
		durationBuckets, "route")
	m.upOpen = gauge("upstream", "pool_connections",
		"Connections to the FastCGI upstream open now, idle or in use.", "route")
	m.upInUse = gauge("upstream", "pool_connections_in_use",
		"Connections to the FastCGI upstream carrying a request now.", "route")
	m.upMaxConns = gauge("upstream", "max_conns",
		"The bound on connections to a FastCGI upstream address (max_conns).", "route", "address")
	m.upUp = gauge("upstream", "up",
		"1 if the last connection attempt to a FastCGI upstream address succeeded, 0 if it failed.", "route", "address")
	m.upWait = histogram("upstream", "queue_wait_seconds",
		"Time a request waited for a connection to the FastCGI upstream, in seconds.",
		queueWaitBuckets, "route")
	m.upRejected = counter("upstream", "rejected_requests_total",
		"Requests answered 503 because every upstream connection was busy, by reason (queue_full, queue_timeout, other).",
		"route", "reason")
	m.upRetries = counter("upstream", "retries_total",
		"Requests sent again on a new connection after the upstream had closed a reused one.", "route")

	m.reloads = counter("config", "reloads_total",
		"Config reloads, by result (success, failure).", "result")
	m.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "config", Name: "last_reload_successful",
		Help: "1 if the last config load or reload succeeded, 0 if it failed."})
	m.reloadOKSeconds = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "config", Name: "last_reload_success_timestamp_seconds",
		Help: "Unix time of the last successful config load or reload, in seconds."})
	reg.MustRegister(m.reloadOK, m.reloadOKSeconds)

	version, goVersion := build.Version, build.GoVersion
	if version == "" {
		version = "unknown"
	}
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
		Help:        "Always 1; the labels name the version of gatewayd and of Go that built it.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": goVersion}})
	info.Set(1)
	reg.MustRegister(info,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Series that alerts divide by or compare against exist from the start.
	for _, r := range []string{"success", "failure"} {
		m.reloads.WithLabelValues(r)
	}
	return m
}

// ConfigLoaded records the config loaded at startup: last reload successful
// is 1 and its timestamp at, without counting a reload.
func (m *Metrics) ConfigLoaded(at time.Time) {
	m.reloadOK.Set(1)
	m.reloadOKSeconds.Set(float64(at.UnixNano()) / 1e9)
}

// ConfigReloaded records a reload (SIGHUP) done at at; err is its failure,
// nil for success. A failed reload leaves the success timestamp as it was.
func (m *Metrics) ConfigReloaded(at time.Time, err error) {
	if err != nil {
		m.reloads.WithLabelValues("failure").Inc()
		m.reloadOK.Set(0)
		return
	}
	m.reloads.WithLabelValues("success").Inc()
	m.ConfigLoaded(at)
}

// oneOf returns the member of set that s names, ignoring case and an
// "fcgi_" prefix (so FastCGI's "FCGI_OVERLOADED" is "overloaded"), or
// "other", so that a label keeps a fixed set of values. It does not allocate.
func oneOf(s string, set []string) string {
	if len(s) > 5 && strings.EqualFold(s[:5], "fcgi_") {
		s = s[5:]
	}
	for _, v := range set {
		if strings.EqualFold(s, v) {
			return v
		}
	}
	return other
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}
