package daemon

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/app/cgiscript"
	"github.com/gatewayd/gatewayd/app/fcgiupstream"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/observe/accesslog"
	"github.com/gatewayd/gatewayd/observe/metrics"
	"github.com/gatewayd/gatewayd/protocol/fastcgi"
)

// switchable passes requests to an observer while on is set, so that a
// reload can turn the access log on and off.
type switchable struct {
	on  *atomic.Bool
	obs handler.Observer
}

func (s switchable) Begin(req *handler.Request, info *handler.Info) {
	if s.on.Load() {
		s.obs.Begin(req, info)
	}
}

func (s switchable) End(req *handler.Request, info *handler.Info, res *handler.Result) {
	if s.on.Load() {
		s.obs.End(req, info, res)
	}
}

// observerFor is what a listener's handler reports requests to: metrics
// always, the access log while log.access is on.
func (d *Daemon) observerFor(name string) handler.Observer {
	access := switchable{on: &d.access, obs: accesslog.New(d.opts.Log.Named("access").With(zap.String("listener", name)))}
	if d.metrics == nil {
		return access
	}
	return handler.MultiObserver(d.metrics.Observer(name), access)
}

// connStateFor counts an HTTP or SCGI listener's connections.
func connStateFor(cc connCounters) func(net.Conn, http.ConnState) {
	return func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			cc.opened()
		case http.StateClosed, http.StateHijacked:
			cc.closed(-1)
		}
	}
}

// refusedFor counts an SCGI listener's connections over max_conns.
func refusedFor(lm *metrics.Listener) func(net.Conn) {
	if lm == nil {
		return nil
	}
	return func(net.Conn) { lm.ConnRefused() }
}

// fastcgiObserver feeds a FastCGI listener's connection events to its
// metrics (l, nil when off) and the status page.
type fastcgiObserver struct {
	l  *metrics.Listener
	cc connCounters
}

func (o fastcgiObserver) ConnOpened()             { o.cc.opened() }
func (o fastcgiObserver) ConnClosed(requests int) { o.cc.closed(requests) }
func (o fastcgiObserver) Refused(ps fastcgi.ProtocolStatus) {
	if o.l != nil {
		o.l.Refused(ps.String())
	}
}
func (o fastcgiObserver) Aborted() {
	if o.l != nil {
		o.l.Aborted()
	}
}
func (o fastcgiObserver) ConnRefused() {
	if o.l != nil {
		o.l.ConnRefused()
	}
}

var _ fastcgi.Observer = fastcgiObserver{}

// cgiObserver feeds a CGI route's script events to its metrics.
type cgiObserver struct{ c *metrics.CGI }

func (o cgiObserver) ScriptStarted(string) { o.c.ScriptStarted() }
func (o cgiObserver) ScriptEnded(_ string, k cgiscript.ExitClass, d time.Duration) {
	o.c.ScriptEnded(string(k), d)
}
func (o cgiObserver) ScriptTimedOut(string)             { o.c.ScriptTimedOut() }
func (o cgiObserver) ScriptKilled(string)               { o.c.ScriptKilled() }
func (o cgiObserver) QueueWait(d time.Duration)         { o.c.QueueWait(d) }
func (o cgiObserver) Rejected(r cgiscript.RejectReason) { o.c.Rejected(string(r)) }
func (o cgiObserver) StderrLine(string)                 { o.c.StderrLine() }

var _ cgiscript.Observer = cgiObserver{}

// upstreamObserver feeds a FastCGI upstream route's outcomes to its metrics.
type upstreamObserver struct{ u *metrics.Upstream }

func (o upstreamObserver) Request(out fcgiupstream.Outcome, d time.Duration) {
	o.u.Request(string(out), d)
}
func (o upstreamObserver) Pool(inUse, open int)            { o.u.Pool(inUse, open) }
func (o upstreamObserver) QueueWait(d time.Duration)       { o.u.QueueWait(d) }
func (o upstreamObserver) Rejected(reason string)          { o.u.Rejected(reason) }
func (o upstreamObserver) Retried()                        { o.u.Retried() }
func (o upstreamObserver) Health(a string, n int, up bool) { o.u.Health(a, n, up) }

var (
	_ fcgiupstream.Observer     = upstreamObserver{}
	_ fcgiupstream.PoolObserver = upstreamObserver{}
)

// metricsServer serves metrics, /healthz and /readyz.
type metricsServer struct {
	srv *http.Server
	l   net.Listener
}

func (d *Daemon) startMetrics(addr, path string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           withStatus(d.metrics.Handler(path, d.ready), d.status),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          zap.NewStdLog(d.opts.Log.Named("metrics")),
	}
	d.metricsSrv = &metricsServer{srv: srv, l: l}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.opts.Log.Error("metrics listener stopped", zap.Error(err))
		}
	}()
	return nil
}

func (d *Daemon) stopMetrics(ctx context.Context) {
	if d.metricsSrv != nil {
		_ = d.metricsSrv.srv.Shutdown(ctx)
	}
}

// MetricsAddr is the metrics listener's address, or nil when it is off.
func (d *Daemon) MetricsAddr() net.Addr {
	if d.metricsSrv == nil {
		return nil
	}
	return d.metricsSrv.l.Addr()
}

// errNotReady is /readyz's answer before the listeners serve and while
// the daemon drains.
var errNotReady = errors.New("not serving: starting or shutting down")

func (d *Daemon) ready() error {
	if !d.serving.Load() {
		return errNotReady
	}
	return nil
}
