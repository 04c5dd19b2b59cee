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
			cc.ConnOpened()
		case http.StateClosed, http.StateHijacked:
			cc.ConnClosed(-1)
		}
	}
}

// refusedFor counts an HTTP or SCGI listener's connections over max_conns.
func refusedFor(lm *metrics.Listener) func(net.Conn) {
	if lm == nil {
		return nil
	}
	return func(net.Conn) { lm.ConnRefused() }
}

// The metrics' recorders are the front end's and the apps' Observers as
// they are: both sides speak core/event's words, so no adapter stands
// between them. These checks keep the method sets in step.
var (
	_ fastcgi.Observer      = (*metrics.Listener)(nil)
	_ fastcgi.Observer      = connCounters{} // with the status page
	_ cgiscript.Observer    = (*metrics.CGI)(nil)
	_ fcgiupstream.Observer = (*metrics.Upstream)(nil)
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
