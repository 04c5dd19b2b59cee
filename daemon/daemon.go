package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/setting"
	"github.com/gatewayd/gatewayd/listener"
	"github.com/gatewayd/gatewayd/observe/metrics"
	"github.com/gatewayd/gatewayd/observe/status"
	"github.com/gatewayd/gatewayd/protocol/fastcgi"
	"github.com/gatewayd/gatewayd/protocol/httpfront"
	"github.com/gatewayd/gatewayd/protocol/scgi"
	"github.com/gatewayd/gatewayd/routes"
)

// frontEnd is what every protocol server offers the daemon.
type frontEnd interface {
	Serve(l net.Listener) error
	Shutdown(ctx context.Context) error
}

// Options are the parts of a daemon that do not come from the config file.
type Options struct {
	// ConfigPath is the file Reload reads again; "" means defaults only.
	ConfigPath string
	// Log is the logger. Required.
	Log *zap.Logger
	// Level is the log level Reload adjusts; nil leaves it alone.
	Level *zap.AtomicLevel
	// App, when set, is served instead of the config's routes (library use:
	// one Go handler). Reload keeps it.
	App http.Handler
	// Inherited are listeners the process was handed (FastCGI's fd 0), by
	// listener name; they take precedence like systemd's sockets.
	Inherited map[string]net.Listener
	// Signals, when set, is where Run takes SIGTERM, SIGINT and SIGHUP
	// from: a channel the caller gave signal.Notify (NotifySignals) before
	// New. The listeners accept connections from the moment New opens them;
	// a SIGTERM before Run's own signal.Notify would take the default
	// action and kill the process on the spot, its queued connections
	// reset and nothing logged. Nil: Run registers its own.
	Signals chan os.Signal
}

// Daemon is a running gatewayd.
type Daemon struct {
	opts       Options
	app        swapApp
	metrics    *metrics.Metrics // nil when metrics.address is empty
	status     *status.Registry
	metricsSrv *metricsServer
	access     atomic.Bool  // log.access
	serving    atomic.Bool  // listeners up and not draining: /readyz
	cutShort   atomic.Int64 // requests still running when Shutdown's ctx ended

	mu        sync.Mutex
	cfg       *config.Config
	apps      *routes.Table
	listeners []net.Listener
	fronts    []frontEnd
	running   sync.WaitGroup
	errs      chan error
}

// New builds the apps and opens every listener of cfg, so that a bad address
// or a port in use fails before anything is served.
func New(cfg *config.Config, o Options) (_ *Daemon, err error) {
	d := &Daemon{opts: o, cfg: cfg, errs: make(chan error, len(cfg.Listeners))}
	d.access.Store(cfg.Log.Access)
	d.status = status.New(status.Options{Version: config.Version, Log: o.Log.Named("slow"), SlowRequest: cfg.Log.SlowRequest})
	defer func() {
		if err != nil {
			d.status.Close()
		}
	}()
	if cfg.Metrics.Address != "" {
		reg := prometheus.NewRegistry()
		d.metrics = metrics.New(reg, metrics.BuildInfo{Version: config.Version})
	}
	activated, err := takeSystemdListeners()
	if err != nil {
		return nil, err
	}
	for name, l := range o.Inherited {
		activated[name] = append([]net.Listener{l}, activated[name]...)
	}
	apps, err := d.buildApps(cfg)
	if err != nil {
		return nil, err
	}
	d.apps = apps
	d.app.set(apps)
	d.status.SetRoutes(statusRoutes(apps))
	d.status.ConfigLoaded(o.ConfigPath, time.Now())
	for _, lc := range cfg.Listeners {
		l, err := listen(lc, activated, o.Log)
		if err != nil {
			d.closeListeners()
			_ = apps.Close(context.Background())
			return nil, fmt.Errorf("listener %s (%s %s): %w", lc.Name, lc.Protocol, lc.Address, err)
		}
		d.listeners = append(d.listeners, l)
		if r, ok := l.(refusingListener); ok && d.metrics != nil {
			// FCGI_WEB_SERVER_ADDRS: what the allow-list closes is a
			// refused connection too.
			r.OnRefused(d.metrics.Listener(lc.Name, lc.Protocol).ConnRefused)
		}
		d.status.Listener(lc.Name, lc.Protocol).SetAddress(addrString(l.Addr()))
		d.fronts = append(d.fronts, d.frontEnd(lc))
	}
	if d.metrics != nil {
		if err := d.startMetrics(cfg.Metrics.Address, cfg.Metrics.Path); err != nil {
			d.closeListeners()
			_ = apps.Close(context.Background())
			return nil, fmt.Errorf("metrics listener %s: %w", cfg.Metrics.Address, err)
		}
		d.metrics.ConfigLoaded(time.Now())
	}
	for name, ls := range activated {
		for _, l := range ls {
			o.Log.Warn("systemd passed a socket no listener is named for; closing it",
				zap.String("name", name), zap.Stringer("address", l.Addr()))
			_ = l.Close()
		}
	}
	return d, nil
}

// Addrs returns the addresses the listeners are bound to, in config order.
func (d *Daemon) Addrs() []net.Addr {
	addrs := make([]net.Addr, len(d.listeners))
	for i, l := range d.listeners {
		addrs[i] = l.Addr()
	}
	return addrs
}

// MetricsURL is where the metrics are served, such as
// "http://127.0.0.1:9464/metrics", or "" when the metrics listener is off.
// The path is metrics.path, or the metrics package's default when unset.
func (d *Daemon) MetricsURL() string {
	a := d.MetricsAddr()
	if a == nil {
		return ""
	}
	d.mu.Lock()
	path := d.cfg.Metrics.Path // metrics.* need a restart: no reload changes it
	d.mu.Unlock()
	return "http://" + a.String() + setting.Or(path, metrics.DefaultPath)
}

// refusingListener is a listener that closes some connections itself
// (listener.AllowOnly) and can say so.
type refusingListener interface{ OnRefused(func()) }

func (d *Daemon) frontEnd(lc config.Listener) frontEnd {
	// No "protocol" field here: the core adds it to every line of a
	// request, and a JSON line must not carry a key twice.
	log := d.opts.Log.With(zap.String("listener", lc.Name))
	sl := d.status.Listener(lc.Name, lc.Protocol)
	h := &handler.Handler{
		App:             &d.app,
		ServerSoftware:  d.cfg.ServerSoftware,
		Log:             log,
		Observer:        handler.MultiObserver(d.observerFor(lc.Name), sl),
		TrustRequestID:  lc.RequestID.TrustHeader,
		RequestIDHeader: lc.RequestID.ResponseHeader,
	}
	var lm *metrics.Listener
	if d.metrics != nil {
		lm = d.metrics.Listener(lc.Name, lc.Protocol)
	}
	cc := connCounters{Listener: lm, s: sl}
	switch lc.Protocol {
	case "http":
		return &httpfront.Server{
			ConnState:         connStateFor(cc),
			Handler:           h,
			ReadHeaderTimeout: lc.ReadHeaderTimeout,
			IdleTimeout:       lc.IdleTimeout,
			MaxHeaderBytes:    lc.MaxHeaderBytes,
			WriteTimeout:      lc.WriteTimeout,
			MaxConns:          lc.MaxConns,
			Refused:           refusedFor(lm),
			PassAuthorization: lc.PassAuthorization,
			ServerSoftware:    d.cfg.ServerSoftware,
			Log:               log,
		}
	case "fastcgi":
		return &fastcgi.Server{
			Handler:        h,
			MaxConns:       lc.MaxConns,
			MaxReqs:        lc.MaxReqs,
			MaxParamsBytes: lc.MaxParamsBytes,
			ReadTimeout:    lc.ReadTimeout,
			WriteTimeout:   lc.WriteTimeout,
			Log:            log,
			Observer:       cc,
		}
	case "scgi":
		return &scgi.Server{
			Handler:        h,
			MaxHeaderBytes: lc.MaxHeaderBytes,
			ReadTimeout:    lc.ReadTimeout,
			WriteTimeout:   lc.WriteTimeout,
			MaxConns:       lc.MaxConns,
			Refused:        refusedFor(lm),
			Log:            log,
			ConnState:      connStateFor(cc),
		}
	}
	panic("daemon: protocol " + lc.Protocol + " passed config.Check but has no front end")
}

// Start serves every listener in the background. Errors other than a
// shutdown come out of Err.
//
// It returns once every front end accepts (or has stopped): a Shutdown
// right after it — a SIGTERM caught during start-up — then finds each
// listener in its front end, which serves what is queued on it. A front
// end whose Serve had not begun would only close the listener, resetting
// those connections.
func (d *Daemon) Start() {
	var accepting sync.WaitGroup
	for i, l := range d.listeners {
		fe := d.fronts[i]
		fa := &firstAccept{Listener: l, reached: accepting.Done}
		accepting.Add(1)
		d.running.Add(1)
		go func() {
			defer d.running.Done()
			defer fa.reach()
			if err := fe.Serve(fa); err != nil && !isClosed(err) {
				d.errs <- fmt.Errorf("serving %s: %w", l.Addr(), err)
			}
		}()
	}
	accepting.Wait()
	d.serving.Store(true)
}

// firstAccept tells Start when its front end first calls Accept: by then
// the front end holds the listener, and its Shutdown closes and drains it.
type firstAccept struct {
	net.Listener
	once    sync.Once
	reached func()
}

func (l *firstAccept) reach() { l.once.Do(l.reached) }

func (l *firstAccept) Accept() (net.Conn, error) {
	l.reach()
	return l.Listener.Accept()
}

// Err delivers the first error of a listener that stopped on its own.
func (d *Daemon) Err() <-chan error { return d.errs }

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// then stops what is left, CGI scripts included.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.serving.Store(false)
	defer d.stopMetrics(ctx)
	// Requests queued for a CGI slot get 503 now, not EOF when the front
	// ends give up on them at ctx's end.
	d.mu.Lock()
	d.apps.Drain()
	d.mu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, fe := range d.fronts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fe.Shutdown(ctx); err != nil && !isClosed(err) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	d.running.Wait()
	d.mu.Lock()
	apps := d.apps
	d.mu.Unlock()
	if ctx.Err() != nil {
		// The requests the apps still run now are the ones the drain could
		// not wait for; the log counts them for a person.
		d.cutShort.Store(apps.InFlight())
	}
	// What is still running after the drain gets SIGTERM, then SIGKILL after
	// its route's kill_grace: give the apps that long, whatever is left of ctx.
	closeCtx, cancel := context.WithTimeout(context.Background(), apps.KillGrace()+time.Second)
	defer cancel()
	if err := apps.Close(closeCtx); err != nil {
		errs = append(errs, err)
	}
	d.closeListeners()
	d.status.Close()
	return errors.Join(errs...)
}

func (d *Daemon) closeListeners() {
	for _, l := range d.listeners {
		_ = l.Close()
	}
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, httpfront.ErrServerClosed) || errors.Is(err, scgi.ErrServerClosed) || errors.Is(err, fastcgi.ErrServerClosed)
}

// listen returns the socket of a listener: the one systemd passed under
// the listener's name, else a new one on "host:port" or "unix:/path".
func listen(lc config.Listener, activated map[string][]net.Listener, log *zap.Logger) (net.Listener, error) {
	if ls := activated[lc.Name]; len(ls) > 0 {
		delete(activated, lc.Name)
		for _, extra := range ls[1:] {
			_ = extra.Close()
		}
		return ls[0], nil
	}
	if lc.Address == "" {
		return nil, fmt.Errorf("no address, and systemd passed no socket named %q", lc.Name)
	}
	mode, err := listener.ParseSocketMode(lc.SocketMode)
	if err != nil {
		return nil, err
	}
	return listener.Open(context.Background(), lc.Address, listener.Options{
		SocketMode: mode, Owner: lc.SocketOwner, Group: lc.SocketGroup, Log: log,
	})
}
