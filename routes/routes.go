// Package routes builds the route table of a config: each route's app
// (demo, static, cgi, fastcgi) mounted at its prefix, as one http.Handler
// with the resources its apps hold.
//
// It sits between the programs that serve and the apps, so that a program
// that needs no metrics (gatewayd-cgi, which a web server starts for every
// request) builds the same apps without linking the Prometheus client: the
// apps' observers come in through Observers, which the daemon fills from
// its metrics.
package routes

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
)

// Table is a built route table and the resources its apps hold (running CGI
// scripts, upstream connections) that Close releases.
type Table struct {
	Handler  http.Handler
	routes   []mount.Route // what the status page lists
	closers  []func(context.Context) error
	inflight atomic.Int64
	drains   []func() // stop taking requests that would wait (CGI queues)
	// killGrace is the longest kill_grace of the cgi routes, as the
	// runners apply it (their default for 0).
	killGrace time.Duration
}

// KillGrace is the longest time a cgi route gives a script between SIGTERM
// and SIGKILL: how long Close may need after it signals them.
func (a *Table) KillGrace() time.Duration { return a.killGrace }

// Drain makes the apps answer requests that would wait for a slot 503 at
// once, as a shutdown begins; running work carries on.
func (a *Table) Drain() {
	for _, d := range a.drains {
		d()
	}
}

// ServeHTTP runs the route table, counting the request in, so that Retire
// knows when the apps are idle.
func (a *Table) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.inflight.Add(1)
	defer a.inflight.Add(-1)
	a.Handler.ServeHTTP(w, r)
}

// Retire waits until the requests already running in these apps are done
// (or ctx ends), then closes them: what a reload does with the old apps.
func (a *Table) Retire(ctx context.Context) error {
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
func (a *Table) Close(ctx context.Context) error {
	var errs []error
	for _, c := range a.closers {
		errs = append(errs, c(ctx))
	}
	return errors.Join(errs...)
}

// Handler returns the route table of cfg as one http.Handler, for programs
// that run a single request (CGI mode) and hold no long-lived resources.
func Handler(cfg *config.Config, log *zap.Logger, opts ...Option) (http.Handler, error) {
	a, err := Build(cfg, log, nil, opts...)
	if err != nil {
		return nil, err
	}
	return a.Handler, nil
}

// InFlight is how many requests the table's apps are running now.
func (a *Table) InFlight() int64 { return a.inflight.Load() }

// Routes are the routes of the table, as the status page lists them.
func (a *Table) Routes() []mount.Route { return a.routes }

// Observers makes the observers of a route's apps; a program with metrics
// implements it, one without passes nil.
type Observers interface {
	// CGI is the observer of the cgi route at prefix; nil means none.
	CGI(prefix string) cgiscript.Observer
	// Upstream is the observer of the fastcgi route at prefix; nil means none.
	Upstream(prefix string) fcgiupstream.Observer
}

// Build builds the route table; obs, when not nil, makes the apps' observers.
func Build(cfg *config.Config, log *zap.Logger, obs Observers, opts ...Option) (*Table, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkLinked(cfg, o); err != nil {
		return nil, err
	}
	a := &Table{}
	routes := make([]mount.Route, 0, len(cfg.Routes))
	var runners []*cgiscript.Runner
	var upstreams []*fcgiupstream.Upstream
	for i, rc := range cfg.Routes {
		h, closer, err := buildApp(rc, log.With(zap.String("route", rc.Prefix), zap.String("app", rc.App)), obs, o)
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
			a.killGrace = max(a.killGrace, rn.KillGrace())
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
		a.Handler = handler.Validate(a.Handler, ValidationLogger(log))
	}
	return a, nil
}

func buildApp(rc config.Route, log *zap.Logger, m Observers, o options) (http.Handler, func(context.Context) error, error) {
	switch rc.App {
	case "demo":
		return demo.App{}, nil, nil
	case "cgi":
		var obs cgiscript.Observer
		if m != nil {
			obs = m.CGI(rc.Prefix)
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
			obs = m.Upstream(rc.Prefix)
		}
		cfg := fcgiupstream.Config{
			Upstream: rc.Upstream, Root: rc.Root, Index: rc.Index,
			MaxConns: rc.MaxConns, ConnectTimeout: rc.ConnectTimeout, UpstreamTimeout: rc.UpstreamTimeout,
			MaxSpoolBytes: rc.MaxSpoolBytes, Observer: obs,
			Transport: rc.Transport, Gofast: o.gofast, QueueSize: rc.QueueSize, QueueTimeout: rc.QueueTimeout,
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

// ValidationLogger logs what handler.Validate finds, with the request id.
func ValidationLogger(log *zap.Logger) func(*http.Request, error) {
	return func(r *http.Request, err error) {
		id := ""
		if info := handler.InfoFrom(r.Context()); info != nil {
			id = info.ID
		}
		log.Warn("conformance violation", zap.String("request_id", id), zap.Error(err))
	}
}
