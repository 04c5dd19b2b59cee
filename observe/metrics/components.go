package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatewayd/gatewayd/core/event"
)

// Listener records what happens on one listener's connections. Its methods
// are safe for concurrent use and do not allocate; a nil *Listener (metrics
// off) records nothing. It is the FastCGI front end's Observer as it is.
type Listener struct {
	open     prometheus.Gauge
	accepted prometheus.Counter
	perConn  prometheus.Observer
	aborted  prometheus.Counter
	refused  [4]prometheus.Counter // refuseReasons, then other
	connsRef prometheus.Counter
}

// Listener returns the recorder of the listener named name (the config's
// listener name) speaking protocol ("http", "fastcgi", "scgi"). Calling it
// twice with the same names returns recorders of the same series.
func (m *Metrics) Listener(name, protocol string) *Listener {
	name, protocol = orNone(name), orNone(protocol)
	l := &Listener{
		open:     m.connsOpen.WithLabelValues(name, protocol),
		accepted: m.connsAccepted.WithLabelValues(name, protocol),
		perConn:  m.reqsPerConn.WithLabelValues(name, protocol),
		aborted:  m.aborted.WithLabelValues(name, protocol),
		connsRef: m.connsRefused.WithLabelValues(name, protocol),
	}
	for i := range l.refused {
		l.refused[i] = m.refused.WithLabelValues(name, protocol, labelAt(refuseReasons, i))
	}
	return l
}

// ConnOpened records an accepted connection.
func (l *Listener) ConnOpened() {
	if l == nil {
		return
	}
	l.accepted.Inc()
	l.open.Inc()
}

// ConnClosed records a connection closed after carrying requests requests.
// A negative count (not known) is left out of the requests-per-connection
// histogram.
func (l *Listener) ConnClosed(requests int) {
	if l == nil {
		return
	}
	l.open.Dec()
	if requests >= 0 {
		l.perConn.Observe(float64(requests))
	}
}

// Refused records a request refused without running an app. reason is
// event.RefuseOverloaded, RefuseCantMpxConn or RefuseUnknownRole (FastCGI's
// "FCGI_OVERLOADED" and friends are accepted as they are); anything else
// counts as "other".
func (l *Listener) Refused(reason event.Refusal) {
	if l == nil {
		return
	}
	l.refused[index(string(reason), refuseReasons)].Inc()
}

// ConnRefused records a connection over the listener's max_conns: closed,
// or answered overloaded, without serving a request. The log shows such
// refusals one line per interval; this counts every one.
func (l *Listener) ConnRefused() {
	if l == nil {
		return
	}
	l.connsRef.Inc()
}

// Aborted records a request the peer abandoned before its response ended:
// FCGI_ABORT_REQUEST, or a client that went away.
func (l *Listener) Aborted() {
	if l == nil {
		return
	}
	l.aborted.Inc()
}

// CGI records what the CGI script runner of one route does. Its methods are
// safe for concurrent use and do not allocate. It is app/cgiscript's
// Observer as it is: the script names it is given are never a label.
type CGI struct {
	running   prometheus.Gauge
	started   prometheus.Counter
	exits     [6]prometheus.Counter // cgiExitClasses, then other
	duration  prometheus.Observer
	timedOut  prometheus.Counter
	killed    prometheus.Counter
	queueWait prometheus.Observer
	rejected  [4]prometheus.Counter // cgiRejectReasons, then other
	stderr    prometheus.Counter
}

// CGI returns the recorder of the cgi route mounted at route (its prefix).
func (m *Metrics) CGI(route string) *CGI {
	route = orNone(route)
	c := &CGI{
		running:   m.cgiRunning.WithLabelValues(route),
		started:   m.cgiStarted.WithLabelValues(route),
		duration:  m.cgiDuration.WithLabelValues(route),
		timedOut:  m.cgiTimedOut.WithLabelValues(route),
		killed:    m.cgiKilled.WithLabelValues(route),
		queueWait: m.cgiQueueWait.WithLabelValues(route),
		stderr:    m.cgiStderr.WithLabelValues(route),
	}
	// Every class and reason exists from the start at zero, so that rates
	// and alerts see a series before the first event.
	for i := range c.exits {
		c.exits[i] = m.cgiExits.WithLabelValues(route, labelAt(cgiExitClasses, i))
	}
	for i := range c.rejected {
		c.rejected[i] = m.cgiRejected.WithLabelValues(route, labelAt(cgiRejectReasons, i))
	}
	return c
}

// ScriptStarted records a script process started.
func (c *CGI) ScriptStarted(string) {
	c.started.Inc()
	c.running.Inc()
}

// ScriptEnded records a started script reaped after running for d. class is
// how it ended (an event.Exit); anything else counts as "other".
func (c *CGI) ScriptEnded(_ string, class event.Exit, d time.Duration) {
	c.running.Dec()
	c.exits[index(string(class), cgiExitClasses)].Inc()
	c.duration.Observe(d.Seconds())
}

// ScriptTimedOut records a script that ran past its timeout.
func (c *CGI) ScriptTimedOut(string) { c.timedOut.Inc() }

// ScriptKilled records a script that needed SIGKILL after the grace period.
func (c *CGI) ScriptKilled(string) { c.killed.Inc() }

// QueueWait records the time a request waited for a slot (zero when one was
// free).
func (c *CGI) QueueWait(d time.Duration) { c.queueWait.Observe(d.Seconds()) }

// Rejected records a request answered 503 without running a script. reason
// is event.RejectQueueFull, RejectQueueTimeout or RejectShutdown; anything
// else counts as "other".
func (c *CGI) Rejected(reason event.Rejection) {
	c.rejected[index(string(reason), cgiRejectReasons)].Inc()
}

// StderrLine records a line a script wrote to stderr.
func (c *CGI) StderrLine(string) { c.stderr.Inc() }

// Upstream records what the FastCGI upstream app of one route does. Its
// methods are safe for concurrent use and do not allocate. It is
// app/fcgiupstream's Observer as it is.
type Upstream struct {
	requests prometheus.Counter
	errors   [4]prometheus.Counter // upstreamErrKinds, then other
	duration prometheus.Observer
	open     prometheus.Gauge
	inUse    prometheus.Gauge
	wait     prometheus.Observer
	rejected [3]prometheus.Counter // upRejectReasons, then other
	retries  prometheus.Counter
	route    string
	maxConns *prometheus.GaugeVec
	up       *prometheus.GaugeVec
}

// Upstream returns the recorder of the fastcgi route mounted at route.
func (m *Metrics) Upstream(route string) *Upstream {
	route = orNone(route)
	u := &Upstream{
		requests: m.upRequests.WithLabelValues(route),
		duration: m.upDuration.WithLabelValues(route),
		open:     m.upOpen.WithLabelValues(route),
		inUse:    m.upInUse.WithLabelValues(route),
		wait:     m.upWait.WithLabelValues(route),
		retries:  m.upRetries.WithLabelValues(route),
		route:    route,
		maxConns: m.upMaxConns,
		up:       m.upUp,
	}
	for i := range u.rejected {
		u.rejected[i] = m.upRejected.WithLabelValues(route, labelAt(upRejectReasons, i))
	}
	for i := range u.errors {
		u.errors[i] = m.upErrors.WithLabelValues(route, labelAt(upstreamErrKinds, i))
	}
	return u
}

// Request records a forwarded request that ended after d. outcome is
// event.ForwardOK, ForwardCanceled (the client went away first) or
// ForwardBusy (answered 503 at saturation, counted in
// rejected_requests_total) for no error, or the error's kind:
// ForwardConnect, ForwardTimeout or ForwardProtocol; anything else is an
// error of kind "other".
func (u *Upstream) Request(outcome event.Forward, d time.Duration) {
	u.requests.Inc()
	u.duration.Observe(d.Seconds())
	if index(string(outcome), upstreamOKOutcome) < len(upstreamOKOutcome) {
		return
	}
	u.errors[index(string(outcome), upstreamErrKinds)].Inc()
}

// QueueWait records the time a request waited for a connection.
func (u *Upstream) QueueWait(d time.Duration) { u.wait.Observe(d.Seconds()) }

// Rejected records a request answered 503 because every connection was
// busy: reason is event.RejectQueueFull or RejectQueueTimeout; anything
// else is "other".
func (u *Upstream) Rejected(reason event.Rejection) {
	u.rejected[index(string(reason), upRejectReasons)].Inc()
}

// Retried records a request sent again on a new connection.
func (u *Upstream) Retried() { u.retries.Inc() }

// Health records whether address (a configured upstream address, so the
// label stays bounded) is reachable, and its max_conns.
func (u *Upstream) Health(address string, maxConns int, up bool) {
	u.maxConns.WithLabelValues(u.route, address).Set(float64(maxConns))
	v := 0.0
	if up {
		v = 1
	}
	u.up.WithLabelValues(u.route, address).Set(v)
}

// Pool records the upstream's connections: inUse carrying a request, open
// in all.
func (u *Upstream) Pool(inUse, open int) {
	u.inUse.Set(float64(inUse))
	u.open.Set(float64(open))
}

// index returns the position of s in set (see oneOf), or len(set) for
// "other".
func index(s string, set []string) int {
	v := oneOf(s, set)
	for i, w := range set {
		if v == w {
			return i
		}
	}
	return len(set)
}

func labelAt(set []string, i int) string {
	if i < len(set) {
		return set[i]
	}
	return other
}
