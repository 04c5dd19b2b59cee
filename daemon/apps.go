package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/app/cgiscript"
	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/app/fcgiupstream"
	"github.com/gatewayd/gatewayd/app/mount"
	"github.com/gatewayd/gatewayd/app/static"
	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/observe/metrics"
)

// Apps is a built route table and the resources its apps hold (running CGI
// scripts, upstream connections) that Close releases.
type Apps struct {
	Handler  http.Handler
	routes   []mount.Route // what the status page lists
	closers  []func(context.Context) error
	inflight atomic.Int64
	drains   []func() // stop taking requests that would wait (CGI queues)
}

// Drain makes the apps answer requests that would wait for a slot 503 at
// once, as a shutdown begins; running work carries on.
func (a *Apps) Drain() {
	for _, d := range a.drains {
		d()
	}
}

// ServeHTTP runs the route table, counting the request in, so that Retire
// knows when the apps are idle.
func (a *Apps) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.inflight.Add(1)
	defer a.inflight.Add(-1)
	a.Handler.ServeHTTP(w, r)
}

// Retire waits until the requests already running in these apps are done
// (or ctx ends), then closes them: what a reload does with the old apps.
func (a *Apps) Retire(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for a.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			return a.Close(ctx)
		case <-t.C:
		}
	}
	return a.Close(ctx)
}

// Close releases the apps' resources, stopping running scripts; ctx bounds
// how long it waits for them.
func (a *Apps) Close(ctx context.Context) error {
	var errs []error
	for _, c := range a.closers {
		errs = append(errs, c(ctx))
	}
	return errors.Join(errs...)
}

// BuildApp returns the route table of cfg as one http.Handler, for programs
// that run a single request (CGI mode) and hold no long-lived resources.
func BuildApp(cfg *config.Config, log *zap.Logger) (http.Handler, error) {
	a, err := buildApps(cfg, log, nil)
	if err != nil {
		return nil, err
	}
	return a.Handler, nil
}

// buildApps builds what the daemon serves: its Options.App, or the routes.
func (d *Daemon) buildApps(cfg *config.Config) (*Apps, error) {
	if d.opts.App != nil {
		h := d.opts.App
		if cfg.Validate {
			h = handler.Validate(h, validationLogger(d.opts.Log))
		}
		return &Apps{Handler: h}, nil
	}
	return buildApps(cfg, d.opts.Log, d.metrics)
}

// buildApps builds the route table; m, when not nil, receives the apps' metrics.
func buildApps(cfg *config.Config, log *zap.Logger, m *metrics.Metrics) (*Apps, error) {
	a := &Apps{}
	routes := make([]mount.Route, 0, len(cfg.Routes))
	var runners []*cgiscript.Runner
	var upstreams []*fcgiupstream.Upstream
	for i, rc := range cfg.Routes {
		h, closer, err := buildApp(rc, log.With(zap.String("route", rc.Prefix), zap.String("app", rc.App)), m)
		if err != nil {
			_ = a.Close(context.Background())
			return nil, fmt.Errorf("routes[%d] (%s %s): %w", i, rc.App, rc.Prefix, err)
		}
		if closer != nil {
			a.closers = append(a.closers, closer)
		}
		if rn, ok := h.(*cgiscript.Runner); ok {
			runners = append(runners, rn)
			a.drains = append(a.drains, rn.Drain)
		}
		if up, ok := h.(*fcgiupstream.Upstream); ok {
			upstreams = append(upstreams, up)
		}
		routes = append(routes, mount.Route{Prefix: rc.Prefix, Kind: rc.App, App: h})
	}
	a.routes = routes
	router := mount.New(routes)
	// A script's local redirect (Location: /path) is served afresh by the
	// whole route table, as a CGI server does.
	for _, rn := range runners {
		rn.Redirect = router
	}
	for _, up := range upstreams {
		up.Redirect = router
	}
	a.Handler = router
	if cfg.Validate {
		a.Handler = handler.Validate(a.Handler, validationLogger(log))
	}
	return a, nil
}

func buildApp(rc config.Route, log *zap.Logger, m *metrics.Metrics) (http.Handler, func(context.Context) error, error) {
	switch rc.App {
	case "demo":
		return demo.App{}, nil, nil
	case "cgi":
		var obs cgiscript.Observer
		if m != nil {
			obs = cgiObserver{m.CGI(rc.Prefix)}
		}
		rn, err := cgiscript.New(cgiscript.Config{
			Observer: obs,
			Root:     rc.Root, Script: rc.Script, Timeout: rc.Timeout, KillGrace: rc.KillGrace,
			MaxConcurrency: rc.MaxConcurrency, QueueSize: rc.QueueSize, QueueTimeout: rc.QueueTimeout,
			PassEnv: rc.PassEnv, Env: rc.Env, MaxHeaderBytes: rc.MaxHeaderBytes,
			MaxSpoolBytes: rc.MaxSpoolBytes, AllowRoot: rc.AllowRoot, MaxRedirects: rc.MaxRedirects,
		}, log)
		if err != nil {
			return nil, nil, err
		}
		return rn, rn.Shutdown, nil
	case "static":
		st, err := static.New(static.Config{Root: rc.Root, List: rc.List, AllowDotfiles: rc.Dotfiles == "allow"}, log)
		if err != nil {
			return nil, nil, err
		}
		return st, closeFunc(st.Close), nil
	case "fastcgi":
		// Files that are not scripts are 403 unless static_files serves
		// them from the same root, as nginx's try_files would.
		var files *static.Static
		if rc.StaticFiles {
			var err error
			files, err = static.New(static.Config{Root: rc.Root}, log)
			if err != nil {
				return nil, nil, err
			}
		}
		var obs fcgiupstream.Observer
		if m != nil {
			obs = upstreamObserver{m.Upstream(rc.Prefix)}
		}
		cfg := fcgiupstream.Config{
			Upstream: rc.Upstream, Root: rc.Root, Index: rc.Index,
			MaxConns: rc.MaxConns, ConnectTimeout: rc.ConnectTimeout, UpstreamTimeout: rc.UpstreamTimeout,
			MaxSpoolBytes: rc.MaxSpoolBytes, Observer: obs,
			Transport: rc.Transport, QueueSize: rc.QueueSize, QueueTimeout: rc.QueueTimeout,
			Upstreams: rc.Upstreams, ResolveInterval: rc.ResolveInterval,
			HealthInterval: rc.HealthCheck.Interval, HealthPath: rc.HealthCheck.Path,
			MaxRedirects: rc.MaxRedirects, AllowDotfiles: rc.Dotfiles == "allow",
			LookupCacheSize: rc.LookupCacheSize, LookupCacheTTL: rc.LookupCacheTTL,
		}
		if files != nil {
			cfg.Files = files
		}
		up, err := fcgiupstream.New(cfg, log)
		closeFiles := func() error {
			if files == nil {
				return nil
			}
			return files.Close()
		}
		if err != nil {
			_ = closeFiles()
			return nil, nil, err
		}
		return up, func(context.Context) error { return errors.Join(up.Close(), closeFiles()) }, nil
	}
	return nil, nil, fmt.Errorf("app %q is not available in this build", rc.App)
}

// closeFunc adapts a Close method to the apps' closers.
func closeFunc(c func() error) func(context.Context) error {
	return func(context.Context) error { return c() }
}

func validationLogger(log *zap.Logger) func(*http.Request, error) {
	return func(r *http.Request, err error) {
		id := ""
		if info := handler.InfoFrom(r.Context()); info != nil {
			id = info.ID
		}
		log.Warn("conformance violation", zap.String("request_id", id), zap.Error(err))
	}
}

// swapApp is the app every front end's handler runs: reload replaces what it
// points to without touching connections.
type swapApp struct {
	p atomic.Pointer[http.Handler]
}

func (s *swapApp) set(h http.Handler) { s.p.Store(&h) }

func (s *swapApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.p.Load()).ServeHTTP(w, r)
}
