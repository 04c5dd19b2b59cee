package fcgiupstream

import (
	"context"
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

	"github.com/yookoala/gofast"
	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/cgiresp"
	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/docroot"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
	"github.com/gatewayd/gatewayd/internal/sockaddr"
	"github.com/gatewayd/gatewayd/internal/stderrlog"
)

// Defaults for the zero values of Config.
const (
	DefaultIndex           = "index.php"
	DefaultMaxConns        = 8
	DefaultConnectTimeout  = 5 * time.Second
	DefaultUpstreamTimeout = 60 * time.Second
	DefaultMaxSpoolBytes   = 64 << 20
	DefaultIdleTimeout     = 60 * time.Second
	DefaultQueueTimeout    = 30 * time.Second
	DefaultQueueSize       = 1024
	DefaultResolveInterval = 30 * time.Second
	DefaultMaxRedirects    = 10
)

// The transports: how requests are framed and sent.
const (
	// TransportNative is gatewayd's own FastCGI client, the default.
	TransportNative = "native"
	// TransportGofast is github.com/yookoala/gofast, the compatibility
	// transport.
	TransportGofast = "gofast"
)

// Errors New returns, and the causes a failed request is logged with.
var (
	ErrNoUpstream  = errors.New("fcgiupstream: one of upstream and upstreams is required")
	ErrNoRoot      = errors.New("fcgiupstream: root is required")
	ErrBadUpstream = errors.New("fcgiupstream: upstream must be unix:/path or host:port")
	ErrBadIndex    = errors.New("fcgiupstream: index must be a file name")
	ErrConnect     = errors.New("fcgiupstream: cannot connect to the upstream")
	ErrTimeout     = errors.New("fcgiupstream: upstream timed out")
	ErrProtocol    = errors.New("fcgiupstream: upstream broke the protocol")
	ErrTooLarge    = errors.New("fcgiupstream: request body larger than max_spool_bytes")
	ErrBusy        = errors.New("fcgiupstream: every connection to the upstream is busy")
	ErrTransport   = errors.New("fcgiupstream: transport must be native or gofast")
)

// Config configures an [Upstream]. Only Upstream and Root are required.
type Config struct {
	// Upstream is the FastCGI application's address: "unix:/path/to.sock"
	// or "host:port". Required, unless Upstreams is set.
	Upstream string
	// Upstreams are several addresses of the same application (a fleet):
	// each "unix:/path", "host:port" or "dns:name:port", which is looked up
	// every ResolveInterval and stands for every address it resolves to (a
	// Kubernetes headless Service). Each address gets MaxConns connections;
	// a request goes to the one with the fewest requests in flight among
	// those not backing off after failures. Exclusive with Upstream.
	Upstreams []string
	// ResolveInterval is how often dns: addresses are looked up again.
	// Default 30s.
	ResolveInterval time.Duration
	// Resolver looks dns: names up. Default net.DefaultResolver.
	Resolver Resolver
	// HealthInterval, when positive, probes every address that often on a
	// connection of its own (within MaxConns), besides the passive health
	// requests give: a failed probe backs the address off, a good one ends
	// its back-off. Default 0: passive health only. Setting it makes even
	// a single Upstream a fleet of one.
	HealthInterval time.Duration
	// HealthPath is the path the probe GETs (it must answer below 500).
	// Default "": FCGI_GET_VALUES, which needs no script.
	HealthPath string
	// Root is the document root: scripts are looked up under it, and
	// SCRIPT_FILENAME and DOCUMENT_ROOT name paths in it, so the upstream
	// must see the same files at the same paths. Required.
	Root string
	// Index is the script run for a directory path ("/" or "/blog/").
	// Default "index.php".
	Index string
	// Extensions are the file name endings that make a file a script.
	// Default [".php"]. Other files are answered by Files, or 403.
	Extensions []string
	// Files, when set, answers requests for files that are not scripts and
	// for directories without an index (for instance the static app over
	// the same root). Default nil: 403.
	Files http.Handler
	// MaxConns is the most connections ever open to the upstream; requests
	// beyond wait for one. Set it to the upstream's worker count
	// (php-fpm's pm.max_children). Default 8.
	MaxConns int
	// ConnectTimeout bounds one connection attempt. Default 5s.
	ConnectTimeout time.Duration
	// UpstreamTimeout bounds the wait for a free connection, and then how
	// long the upstream may go without reading or writing anything on its
	// connection before the request fails (504 before the response began,
	// a cut-off response after). Default 60s.
	UpstreamTimeout time.Duration
	// MaxSpoolBytes is the largest request body without a length
	// (chunked) that is accepted; it is read to its end, in memory up to
	// 64 KiB and then in a temporary file, before the request goes
	// upstream with its CONTENT_LENGTH. Larger bodies get 413.
	// Default 64 MiB; negative refuses such bodies with 411.
	MaxSpoolBytes int64
	// SpoolDir is where spooled bodies go. Default os.TempDir().
	SpoolDir string
	// IdleTimeout is how long an unused connection stays open for reuse.
	// Default 60s; negative closes every connection after its request.
	IdleTimeout time.Duration
	// Observer, when set, is told about every request forwarded and every
	// change in the pool, for metrics. Default nil.
	Observer Observer
	// AllowDotfiles serves paths with a segment starting with "." (.env,
	// .git/, .htaccess; /.well-known/ always passes), as scripts or
	// through Files. Default false: 403, the static app's rule
	// (environ.IsDotfilePath). Security: a deployed PHP app's root
	// usually holds its secrets in dotfiles.
	AllowDotfiles bool
	// Transport is "native" (gatewayd's own FastCGI client) or "gofast"
	// (the compatibility transport, with gofast's limits: header lines of
	// at most 1 KiB, no local redirects, no streaming before 16 KiB of
	// body or the end). Default "native".
	Transport string
	// LookupCacheSize is how many script lookups (PATH_INFO → script under
	// Root) are kept, so that a busy route does not stat its script on
	// every request; LookupCacheTTL is how long each is kept (a removed
	// script is still named to the upstream that long; a new one is seen
	// at once). Defaults 1024 and 1s; a negative value turns the cache
	// off (docroot.Cache).
	LookupCacheSize int
	LookupCacheTTL  time.Duration
	// QueueSize is how many requests may wait for a connection when all
	// MaxConns are busy; beyond them the answer is 503 with Retry-After at
	// once. Default 1024 (the CGI runner's); negative means no queue.
	QueueSize int
	// QueueTimeout is how long a request waits for a connection before it
	// gets 503 with Retry-After. Default 30s (the CGI runner's).
	QueueTimeout time.Duration
	// MaxRedirects is how many local redirects (a "Location: /path" with
	// no other field, RFC 3875 section 6.2.2) one request may follow
	// through Redirect; past it, 500. Default 10; negative sends local
	// redirects to the client as 302.
	MaxRedirects int
	// Redirect serves local redirects: the router sets it to itself, as
	// for the CGI runner. Nil sends them to the client as 302. Set it
	// before the first request.
	Redirect http.Handler
}

// Outcome is how a forwarded request ended.
type Outcome string

// Outcomes an Observer is told.
const (
	OutcomeOK       Outcome = "ok"       // the upstream answered
	OutcomeConnect  Outcome = "connect"  // no connection could be made: 502
	OutcomeTimeout  Outcome = "timeout"  // no free connection, or the upstream went silent: 504
	OutcomeProtocol Outcome = "protocol" // the upstream hung up or sent nonsense: 502
	OutcomeCanceled Outcome = "canceled" // the client went away first
	OutcomeBusy     Outcome = "busy"     // every connection busy past queue_size or queue_timeout: 503
)

// Observer watches an Upstream, for metrics. Its methods are called from
// request goroutines and must be safe for concurrent use and quick.
type Observer interface {
	// Request is called once for each request sent upstream, when it ends.
	Request(outcome Outcome, d time.Duration)
	// Pool is called when the number of connections in use or open changes.
	Pool(inUse, open int)
}

// PoolObserver is what an Observer may also implement to be told about
// admission and the upstream's health, for metrics. Its methods are called
// from request goroutines and must be safe for concurrent use and quick.
type PoolObserver interface {
	// QueueWait is how long a request waited for a connection (zero when
	// one was free).
	QueueWait(d time.Duration)
	// Rejected is a request answered 503 because every connection was
	// busy: reason is "queue_full" or "queue_timeout".
	Rejected(reason string)
	// Retried is a request sent again on a new connection.
	Retried()
	// Health is called when address becomes reachable (up) or not (a
	// connect failure), and once with the first connection; maxConns is
	// its bound.
	Health(address string, maxConns int, up bool)
}

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
	pobs     PoolObserver
	name     string // the upstream as configured

	dotfiles     bool
	lookups      *docroot.Cache
	native       bool
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
	if cfg.ResolveInterval <= 0 {
		cfg.ResolveInterval = DefaultResolveInterval
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Index == "" {
		cfg.Index = DefaultIndex
	}
	if strings.ContainsAny(cfg.Index, "/\x00") || cfg.Index == "." || cfg.Index == ".." {
		return nil, fmt.Errorf("%w: %q", ErrBadIndex, cfg.Index)
	}
	if len(cfg.Extensions) == 0 {
		cfg.Extensions = []string{".php"}
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.UpstreamTimeout <= 0 {
		cfg.UpstreamTimeout = DefaultUpstreamTimeout
	}
	if cfg.MaxSpoolBytes == 0 {
		cfg.MaxSpoolBytes = DefaultMaxSpoolBytes
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	switch cfg.Transport {
	case "":
		cfg.Transport = TransportNative
	case TransportNative, TransportGofast:
	default:
		return nil, fmt.Errorf("%w: %q", ErrTransport, cfg.Transport)
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	} else if cfg.QueueSize < 0 {
		cfg.QueueSize = 0
	}
	if cfg.QueueTimeout <= 0 {
		cfg.QueueTimeout = DefaultQueueTimeout
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
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
	pobs, _ := cfg.Observer.(PoolObserver)
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
		pobs:         pobs,
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
	log := &reqLog{base: u.log, id: id}

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
		outcome = new(Outcome)
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

// forwardCall is one request on its way upstream.
type forwardCall struct {
	w       http.ResponseWriter
	r       *http.Request
	env     environ.Env
	ps      *paramSet
	body    io.Reader
	n       int64 // body bytes, -1 for none
	sp      *spooled
	log     *reqLog
	outcome *Outcome
}

// forward sends the request upstream and relays the answer, once more on a
// new connection when a reused one turns out to have been closed by the
// upstream before it took the request. It reports the upstream's app status
// when the upstream answered.
func (u *Upstream) forward(ctx context.Context, fc *forwardCall) (uint32, bool) {
	w, r, log := fc.w, fc.r, fc.log
	var wr wireRequest
	var params map[string]string
	if u.native {
		var err error
		wr, err = u.encode(fc.ps, fc.body, fc.n)
		if err != nil {
			log.get().Info("reading the request body", zap.Error(err))
			http.Error(w, statusText(http.StatusBadRequest), http.StatusBadRequest)
			return 0, false
		}
		defer wr.release()
	} else {
		params = fc.ps.Map()
	}
	// A request the retry below would send again needs no check of an idle
	// connection before it goes (gofast's exchange is left as it was).
	mode := reuseChecked
	if u.native && idempotent(r.Method) && (fc.body == nil || fc.sp != nil || wr.whole) {
		mode = reuseAny
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			mode = reuseNone
		}
		c, err := u.getConn(ctx, mode)
		if err != nil {
			if ctx.Err() == nil {
				u.failed(err)
			}
			u.unavailable(w, err, fc.outcome, log)
			return 0, false
		}
		if info := handler.InfoFrom(ctx); info != nil {
			info.QueueWaited(c.waited)
			info.UpstreamConnected(u.name, c.dialed)
		}

		var ex exchanged
		if u.native {
			ex = u.exchangeNative(ctx, c, w, r, fc.env, &wr, log)
		} else {
			ex = u.exchange(ctx, c, w, r, params, fc.body, log)
		}
		replayable := fc.body == nil || fc.sp != nil || ex.bodyRead == 0 || wr.whole
		if ex.stale && attempt == 0 && replayable && (idempotent(r.Method) || ex.st.writeErr != nil) {
			u.putConn(c, false, OutcomeCanceled)
			if fc.sp != nil && !wr.whole {
				if err := fc.sp.rewind(); err != nil {
					log.get().Error("retrying", zap.Error(err))
					setOutcome(fc.outcome, OutcomeProtocol)
					http.Error(w, statusText(http.StatusBadGateway), http.StatusBadGateway)
					return 0, false
				}
			}
			if po := u.pobs; po != nil {
				po.Retried()
			}
			log.get().Debug("connection closed by the upstream; retrying on a new one",
				zap.NamedError("read", ex.st.readErr), zap.NamedError("write", ex.st.writeErr))
			continue
		}
		u.putConn(c, ex.reusable, ex.outcome)
		setOutcome(fc.outcome, ex.outcome)
		if ex.outcome != OutcomeOK {
			if ex.outcome != OutcomeCanceled {
				u.failed(ex.cause)
			}
			u.fail(w, r, ex, log)
			return 0, false
		}
		if ex.redirect != "" {
			// Served after the connection went back: the redirect may
			// need one.
			u.localRedirect(w, r, fc.env, ex.redirect, log)
		}
		return ex.st.appStatus, true
	}
}

func (u *Upstream) getConn(ctx context.Context, mode reuse) (*conn, error) {
	if u.fleet != nil {
		return u.fleet.get(ctx, mode)
	}
	return u.pool.get(ctx, mode)
}

// putConn gives c back after a request that ended with outcome, which
// tells a fleet's balancer how the address did.
func (u *Upstream) putConn(c *conn, keep bool, outcome Outcome) {
	if c.member != nil {
		u.fleet.put(c, keep, outcome)
		return
	}
	u.pool.put(c, keep)
}

// failed records a failure for the status page.
func (u *Upstream) failed(err error) {
	if u.fleet != nil {
		u.fleet.failed(err)
		return
	}
	u.pool.failed(err)
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

func (u *Upstream) exchange(ctx context.Context, c *conn, w http.ResponseWriter, r *http.Request,
	params map[string]string, body io.Reader, log *reqLog) exchanged {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stderr := stderrlog.New(log.get(), "upstream stderr", nil)
	c.begin(stderr)
	in := &stdin{r: body, want: -1, broken: func() { _ = c.Conn.Close() }}
	if n, err := strconv.ParseInt(params["CONTENT_LENGTH"], 10, 64); err == nil {
		in.want = n
	}
	req := &gofast.Request{Raw: r.WithContext(ctx), Role: gofast.RoleResponder, Params: params}
	if body != nil {
		req.Stdin = in
	}
	// Closing the connection is the one way to stop gofast's goroutines
	// early: when the client goes away or the relay fails.
	stop := context.AfterFunc(ctx, func() { _ = c.Conn.Close() })
	rl := &relay{w: w, header: make(http.Header), onFail: cancel}

	wd := startWatchdog(c, rl, cancel)
	var werr error
	resp, err := c.client.Do(req)
	if err == nil {
		werr = resp.WriteTo(rl, io.Discard)
	} else {
		werr = err
	}
	stalled := wd.stop()
	defer rl.release()
	st := c.state()
	stderr.Flush()
	intact := stop()

	ex := exchanged{st: st, started: rl.started, bodyRead: in.n}
	switch {
	case st.endSeen && st.protoStatus == 0 && !st.badVersion && werr == nil:
		if !rl.started {
			rl.start()
		}
		ex.outcome = OutcomeOK
		ex.started = true
		ex.reusable = intact && st.writeErr == nil && st.readErr == nil && in.err == nil && !rl.failed
		return ex
	case rl.failed || r.Context().Err() != nil:
		ex.outcome = OutcomeCanceled
		ex.cause = context.Canceled
	case stalled:
		ex.outcome = OutcomeProtocol
		ex.cause = fmt.Errorf("%w: unusable response head: %w", ErrProtocol, werr)
	case isTimeout(st.readErr) || isTimeout(st.writeErr):
		ex.outcome = OutcomeTimeout
		ex.cause = fmt.Errorf("%w: nothing for %v", ErrTimeout, u.timeout)
	case in.err != nil:
		ex.outcome = OutcomeCanceled
		ex.cause = fmt.Errorf("fcgiupstream: reading the request body: %w", in.err)
	case st.badVersion:
		ex.outcome = OutcomeProtocol
		ex.cause = fmt.Errorf("%w: bad record version", ErrProtocol)
	case st.endSeen && st.protoStatus != 0:
		ex.outcome = OutcomeProtocol
		ex.cause = fmt.Errorf("%w: FCGI_END_REQUEST protocol status %d", ErrProtocol, st.protoStatus)
	case st.endSeen:
		ex.outcome = OutcomeProtocol
		ex.cause = fmt.Errorf("%w: %w", ErrProtocol, werr)
	default:
		ex.outcome = OutcomeProtocol
		ex.cause = fmt.Errorf("%w: connection closed before FCGI_END_REQUEST (read: %v, write: %v)",
			ErrProtocol, st.readErr, st.writeErr)
		ex.stale = c.reused && st.stdout == 0 && !rl.started
	}
	return ex
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

// stdin is the request body as gofast reads it: it counts what was taken,
// keeps the error, and leaves closing to us. A body that fails or ends
// before CONTENT_LENGTH breaks the connection first: gofast would end the
// FCGI_STDIN stream cleanly, and the upstream would run the script on a
// truncated body.
type stdin struct {
	r      io.Reader
	n      int64
	want   int64 // CONTENT_LENGTH, -1 when unknown
	err    error
	broken func()
}

func (s *stdin) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err == io.EOF && s.want >= 0 && s.n < s.want {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		s.err = err
		s.broken()
	}
	return n, err
}

func (s *stdin) Close() error { return nil }

// reqLog is a request's logger, with its request_id, made on first use:
// most requests log nothing, and building it for each (zap's With clones
// the encoder) was 1.4 % of the daemon's CPU under wrk (perf, c=32). The
// atomic keeps it safe whichever goroutine logs first, at the price of a
// load.
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
