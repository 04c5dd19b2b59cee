// The app itself: New builds an Upstream from its Config, and ServeHTTP
// takes a request from the script lookup to the transport. Config and the
// observer interfaces are in config.go, the retry and pool dispatch in
// forward.go, the transports in native.go and gofast.go, the pools in
// pool.go and fleet.go. It is over 400 lines because New checks every
// Config field and hands it to the piece that uses it in one function, so
// that a key is followed in one guess; the request path after it is short.

package fcgiupstream

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/cgiresp"
	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/docroot"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
	"github.com/gatewayd/gatewayd/internal/sockaddr"
)

// Upstream forwards requests to a FastCGI application. It is safe for
// concurrent use; Close it when done.
type Upstream struct {
	root     *os.Root
	dir      string
	index    string
	exts     []string
	files    http.Handler
	timeout  time.Duration
	maxSpool int64
	spoolDir string
	obs      Observer
	log      *zap.Logger
	pool     *pool  // the one address, or nil for a fleet
	fleet    *fleet // several addresses, or nil
	name     string // the upstream as configured

	dotfiles     bool
	lookups      *docroot.Cache
	native       bool
	gofast       func(net.Conn) Client // Config.Gofast
	beginFlags   uint8
	maxRedirects int
	// Redirect is Config.Redirect.
	Redirect http.Handler
}

var _ http.Handler = (*Upstream)(nil)

// New checks cfg, opens the root and returns the app. It does not connect:
// the first request does. log may be nil.
func New(cfg Config, log *zap.Logger) (*Upstream, error) {
	if (cfg.Upstream == "") == (len(cfg.Upstreams) == 0) {
		return nil, ErrNoUpstream
	}
	if cfg.Root == "" {
		return nil, ErrNoRoot
	}
	var network, address string
	var err error
	if cfg.Upstream != "" {
		if network, address, err = parseUpstream(cfg.Upstream); err != nil {
			return nil, err
		}
	} else {
		for _, a := range cfg.Upstreams {
			if _, _, _, err := fleetAddr(a); err != nil {
				return nil, err
			}
		}
	}
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(cfg.Index, "/\x00") || cfg.Index == "." || cfg.Index == ".." {
		return nil, fmt.Errorf("%w: %q", ErrBadIndex, cfg.Index)
	}
	if cfg.Transport != TransportNative && cfg.Transport != TransportGofast {
		return nil, fmt.Errorf("%w: %q", ErrTransport, cfg.Transport)
	}
	if cfg.Transport == TransportGofast && cfg.Gofast == nil {
		return nil, ErrNoGofast
	}
	if log == nil {
		log = zap.NewNop()
	}
	dir, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("fcgiupstream: root %q: %w", cfg.Root, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("fcgiupstream: opening root: %w", err)
	}
	name := cfg.Upstream
	if name == "" {
		name = strings.Join(cfg.Upstreams, ",")
	}
	log = log.With(zap.String("upstream", name))
	native := cfg.Transport == TransportNative
	pcfg := poolConfig{
		maxConns: cfg.MaxConns, queueSize: cfg.QueueSize, queueTimeout: cfg.QueueTimeout,
		connectTimeout: cfg.ConnectTimeout, ioTimeout: cfg.UpstreamTimeout, idleTimeout: cfg.IdleTimeout,
		native: native,
	}
	var p *pool
	var fl *fleet
	switch {
	case cfg.Upstream != "" && cfg.HealthInterval <= 0:
		p = newPool(network, address, pcfg, cfg.Observer)
	default:
		addrs := cfg.Upstreams
		if cfg.Upstream != "" {
			addrs = []string{cfg.Upstream}
		}
		if fl, err = newFleet(addrs, cfg.Resolver, cfg.ResolveInterval, pcfg, cfg.Observer); err != nil {
			_ = root.Close()
			return nil, err
		}
	}
	var flags uint8
	if cfg.IdleTimeout >= 0 {
		flags = fcgiwire.FlagKeepConn
	}
	lookups := docroot.NewCache(docroot.Lookup{Index: cfg.Index, Extensions: cfg.Extensions, Dotfiles: cfg.AllowDotfiles},
		root, cfg.LookupCacheSize, cfg.LookupCacheTTL)
	u := &Upstream{
		dotfiles:     cfg.AllowDotfiles,
		lookups:      lookups,
		native:       native,
		gofast:       cfg.Gofast,
		beginFlags:   flags,
		maxRedirects: cfg.MaxRedirects,
		Redirect:     cfg.Redirect,
		root:         root,
		dir:          dir,
		index:        cfg.Index,
		exts:         cfg.Extensions,
		files:        cfg.Files,
		timeout:      cfg.UpstreamTimeout,
		maxSpool:     cfg.MaxSpoolBytes,
		spoolDir:     cfg.SpoolDir,
		obs:          cfg.Observer,
		log:          log,
		name:         name,
		pool:         p,
		fleet:        fl,
	}
	if fl != nil {
		var probe []byte
		if cfg.HealthPath != "" {
			if probe, err = u.healthProbe(cfg.HealthPath); err != nil {
				fl.close()
				_ = root.Close()
				return nil, err
			}
		}
		fl.startChecks(cfg.HealthInterval, probe)
	}
	return u, nil
}

// parseUpstream reads the upstream's address as the config does
// (internal/sockaddr).
func parseUpstream(s string) (network, address string, err error) {
	a, err := sockaddr.ParseDial(s)
	if err != nil {
		return "", "", fmt.Errorf("%w: %q", ErrBadUpstream, s)
	}
	return a.Network, a.Address, nil
}

// Close closes the idle connections and the root. Requests in flight finish
// and their connections are closed after them.
func (u *Upstream) Close() error {
	if u.fleet != nil {
		u.fleet.close()
	} else {
		u.pool.close()
	}
	return u.root.Close()
}

func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	env, ok := environ.FromContext(ctx)
	if !ok {
		env = environ.FromRequest(r, environ.Options{})
	}
	id := ""
	info := handler.InfoFrom(ctx)
	if info != nil {
		id = info.ID
	}
	// The request's logger and outcome share one allocation.
	st := &requestState{log: reqLog{base: u.log, id: id}}
	log := &st.log

	t := u.resolve(env["PATH_INFO"])
	if t.status != 0 {
		switch {
		case t.file && u.files != nil:
			u.files.ServeHTTP(w, r)
		case t.status == http.StatusMovedPermanently:
			redirectSlash(w, env["SCRIPT_NAME"], t.dir, env["QUERY_STRING"])
		default:
			if t.status == http.StatusBadRequest {
				log.get().Info("refused a path outside the root", zap.String("path_info", env["PATH_INFO"]))
			}
			http.Error(w, statusText(t.status), t.status)
		}
		return
	}

	ps := u.paramSet(env, t)
	if info != nil {
		ps.Set(handler.RequestIDVar, info.ID)
	}
	var body io.Reader
	var sp *spooled
	n := int64(-1)
	switch {
	case r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0:
	case r.ContentLength > 0:
		// Never more than announced, whatever the front end's reader does.
		body = io.LimitReader(r.Body, r.ContentLength)
		n = r.ContentLength
		if env["CONTENT_LENGTH"] == "" {
			ps.ContentLength = strconv.FormatInt(r.ContentLength, 10)
		}
	default:
		var err error
		sp, err = spool(r.Body, max(u.maxSpool, 0), u.spoolDir)
		if errors.Is(err, ErrTooLarge) && u.maxSpool < 0 {
			http.Error(w, statusText(http.StatusLengthRequired), http.StatusLengthRequired)
			return
		}
		if errors.Is(err, ErrTooLarge) {
			log.get().Info("request body too large", zap.Int64("max_spool_bytes", u.maxSpool))
			http.Error(w, statusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
			return
		}
		if err != nil {
			log.get().Info("reading the request body", zap.Error(err))
			http.Error(w, statusText(http.StatusBadRequest), http.StatusBadRequest)
			return
		}
		defer sp.close()
		if sp.size > 0 {
			body = sp
			n = sp.size
			ps.ContentLength = strconv.FormatInt(sp.size, 10)
		}
	}

	var outcome *Outcome
	if u.obs != nil {
		start := time.Now()
		outcome = &st.outcome
		*outcome = OutcomeCanceled
		// Deferred: a cut-off response ends in a panic.
		defer func() { u.obs.Request(*outcome, time.Since(start)) }()
	}
	info.SetPhase(handler.PhaseQueued)
	call := forwardCall{w: w, r: r, env: env, ps: &ps, body: body, n: n, sp: sp, log: log, outcome: outcome}
	if appStatus, ok := u.forward(ctx, &call); ok && info != nil {
		info.AppStatus = int(appStatus)
	}
}

func setOutcome(p *Outcome, o Outcome) {
	if p != nil {
		*p = o
	}
}

// paramSet is the request's environment as the upstream gets it: env with
// the variables of the script put in and HTTP_PROXY taken out
// (docroot.ParamSet, which `gatewayd request --root` sends too). The native
// transport encodes it straight from env, with no map in between.
type paramSet = docroot.ParamSet

func (u *Upstream) paramSet(env environ.Env, t target) paramSet {
	return docroot.NewParamSet(env, u.dir, docroot.Target{Script: t.script, PathInfo: t.pathInfo})
}

// params is the request's environment as the upstream gets it, as a map
// (docroot.Params).
func (u *Upstream) params(env environ.Env, t target) map[string]string {
	return docroot.Params(env, u.dir, docroot.Target{Script: t.script, PathInfo: t.pathInfo})
}

// unavailable answers a request that got no connection.
func (u *Upstream) unavailable(w http.ResponseWriter, err error, outcome *Outcome, log *reqLog) {
	switch {
	case errors.Is(err, ErrBusy):
		log.get().Warn("upstream saturated; answered 503", zap.Error(err))
		setOutcome(outcome, OutcomeBusy)
		// Saturation is an answer, not a failure: the client may come
		// back, and a load balancer may try another instance.
		w.Header().Set("Retry-After", "1")
		http.Error(w, statusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
	case errors.Is(err, ErrConnect):
		log.get().Error("upstream unavailable", zap.Error(err))
		setOutcome(outcome, OutcomeConnect)
		http.Error(w, statusText(http.StatusBadGateway), http.StatusBadGateway)
	default: // the client went away while waiting
		http.Error(w, statusText(http.StatusBadGateway), http.StatusBadGateway)
	}
}

// localRedirect serves loc, the upstream's local redirect (RFC 3875 section
// 6.2.2), through the routes, as the CGI runner does (core/cgiresp).
func (u *Upstream) localRedirect(w http.ResponseWriter, r *http.Request, env environ.Env, loc string, log *reqLog) {
	if n := cgiresp.Redirects(r.Context()); n >= u.maxRedirects {
		log.get().Error("too many local redirects; answered 500", zap.Int("max_redirects", u.maxRedirects),
			zap.String("location", loc))
		http.Error(w, statusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	req, err := cgiresp.RedirectRequest(r, env, loc)
	if errors.Is(err, cgiresp.ErrBadRedirect) {
		log.get().Error("upstream sent a bad local redirect; answered 502", zap.String("location", loc))
		http.Error(w, statusText(http.StatusBadGateway), http.StatusBadGateway)
		return
	}
	if err != nil {
		log.get().Error("building the local redirect", zap.String("location", loc), zap.Error(err))
		http.Error(w, statusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	log.get().Debug("local redirect", zap.String("location", loc))
	u.Redirect.ServeHTTP(w, req)
}

// exchanged is how one request on one connection went.
type exchanged struct {
	outcome  Outcome
	st       streamState
	cause    error // why it failed
	started  bool  // the head went to the client
	stale    bool  // a reused connection the upstream had closed
	reusable bool
	bodyRead int64
	redirect string // a local redirect to serve (native)
}

// fail answers for a request that went wrong upstream: 502 or 504 when
// nothing was sent yet, a cut-off response otherwise.
func (u *Upstream) fail(w http.ResponseWriter, r *http.Request, ex exchanged, log *reqLog) {
	if ex.outcome == OutcomeCanceled {
		log.get().Debug("request canceled", zap.Error(ex.cause))
		if ex.started {
			panic(http.ErrAbortHandler)
		}
		http.Error(w, statusText(http.StatusBadGateway), http.StatusBadGateway)
		return
	}
	log.get().Error("upstream request failed", zap.String("outcome", string(ex.outcome)),
		zap.String("script", r.URL.Path), zap.Bool("response_started", ex.started), zap.Error(ex.cause))
	if ex.started {
		// The client must be able to tell the response is incomplete.
		panic(http.ErrAbortHandler)
	}
	status := http.StatusBadGateway
	if ex.outcome == OutcomeTimeout {
		status = http.StatusGatewayTimeout
	}
	http.Error(w, statusText(status), status)
}

func isTimeout(err error) bool {
	return err != nil && errors.Is(err, os.ErrDeadlineExceeded)
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

func statusText(code int) string {
	return strings.TrimSuffix(handler.ErrorText(code), "\n")
}

// redirectSlash sends a directory path without its trailing slash to the
// path with one, under the mount prefix; it never starts with "//".
func redirectSlash(w http.ResponseWriter, scriptName, dir, query string) {
	w.Header().Set("Location", environ.DirectoryLocation(scriptName, dir, query))
	http.Error(w, statusText(http.StatusMovedPermanently), http.StatusMovedPermanently)
}

// reqLog is a request's logger, with its request_id, made on first use:
// most requests log nothing, and building it for each (zap's With clones
// the encoder) was 1.4 % of the daemon's CPU under wrk (perf, c=32). The
// atomic keeps it safe whichever goroutine logs first, at the price of a
// load.
// requestState is what a request through the upstream keeps on the heap.
type requestState struct {
	log     reqLog
	outcome Outcome
}

type reqLog struct {
	base *zap.Logger
	id   string
	l    atomic.Pointer[zap.Logger]
}

func (rl *reqLog) get() *zap.Logger {
	if l := rl.l.Load(); l != nil {
		return l
	}
	l := rl.base.With(zap.String("request_id", rl.id))
	if !rl.l.CompareAndSwap(nil, l) {
		return rl.l.Load()
	}
	return l
}
