package cgiscript

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/cgiresp"
	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/lograte"
	"github.com/gatewayd/gatewayd/internal/setting"
	"github.com/gatewayd/gatewayd/internal/spool"
)

// Defaults for the zero values of [Config]; the config file's cgi route
// keys of the same names take them from here.
const (
	DefaultTimeout        = 60 * time.Second
	DefaultKillGrace      = 5 * time.Second
	DefaultQueueSize      = 1024
	DefaultQueueTimeout   = 30 * time.Second
	DefaultMaxHeaderBytes = cgiresp.DefaultMaxHeadBytes
	DefaultMaxSpoolBytes  = spool.DefaultMaxBytes
	DefaultMaxRedirects   = 10
)

// DefaultMaxConcurrency is Config.MaxConcurrency's default: 2 × the number
// of CPUs, as fcgiwrap's -c is usually set.
func DefaultMaxConcurrency() int { return 2 * runtime.NumCPU() }

// DefaultPassEnv is Config.PassEnv's default.
func DefaultPassEnv() []string { return []string{"PATH"} }

// withDefaults is cfg as it runs: each zero value replaced by its default
// and each negative one by what off means for it (setting's rule); a
// negative value of a limit that cannot be off is refused.
func (cfg Config) withDefaults() (Config, error) {
	if err := setting.Negative(
		setting.N("kill_grace", cfg.KillGrace), setting.N("max_concurrency", cfg.MaxConcurrency),
		setting.N("queue_timeout", cfg.QueueTimeout), setting.N("max_header_bytes", cfg.MaxHeaderBytes),
	); err != nil {
		return cfg, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	cfg.Timeout = setting.Or(cfg.Timeout, DefaultTimeout) // negative: no limit
	cfg.KillGrace = setting.Or(cfg.KillGrace, DefaultKillGrace)
	cfg.MaxConcurrency = setting.Or(cfg.MaxConcurrency, DefaultMaxConcurrency())
	cfg.QueueSize = max(setting.Or(cfg.QueueSize, DefaultQueueSize), 0) // negative: no queue
	cfg.QueueTimeout = setting.Or(cfg.QueueTimeout, DefaultQueueTimeout)
	if cfg.PassEnv == nil {
		cfg.PassEnv = DefaultPassEnv()
	}
	cfg.MaxHeaderBytes = setting.Or(cfg.MaxHeaderBytes, DefaultMaxHeaderBytes)
	cfg.MaxSpoolBytes = setting.Or(cfg.MaxSpoolBytes, DefaultMaxSpoolBytes) // negative: 411
	cfg.MaxRedirects = setting.Or(cfg.MaxRedirects, DefaultMaxRedirects)    // negative: sent as 302
	return cfg, nil
}

// ErrRunAsRoot is returned by [New] when gatewayd runs as root and
// Config.AllowRoot is false.
var ErrRunAsRoot = errors.New("cgiscript: refusing to run scripts as root (effective uid 0); " +
	"run gatewayd as an unprivileged user or set allow_root: true")

// ErrConfig is wrapped by every configuration error [New] returns.
var ErrConfig = errors.New("cgiscript: bad configuration")

// Runner runs CGI scripts as an http.Handler. Make one with [New]; the zero
// Runner is not usable. It is safe for concurrent use.
type Runner struct {
	// Redirect serves local redirects (a script's "Location: /path" with no
	// other field): the router sets it to itself, and the redirect arrives
	// there as a GET with SCRIPT_NAME "" and PATH_INFO the path. Nil sends
	// local redirects to the client as 302. Set it before the first
	// request.
	Redirect http.Handler

	cfg     Config
	log     *zap.Logger
	obs     Observer
	root    string // Root, absolute and cleaned; "" when not set
	rootDir string // Root with symlinks resolved, for the escape check
	script  *script
	baseEnv []string // PassEnv resolved at New
	lim     limiter
	cont    *containment
	// A client can make these happen at will: one log line per interval,
	// the rest counted on the next (metrics count every one).
	fullLog, waitLog, pathLog lograte.Limiter

	mu      sync.Mutex
	closed  bool
	drain   chan struct{} // closed by Drain or Shutdown: 503 for new and queued requests
	stop    chan struct{} // closed by Shutdown: SIGTERM everything
	killNow chan struct{} // closed when Shutdown's context ends: SIGKILL
	active  sync.WaitGroup
}

var _ http.Handler = (*Runner)(nil)

// KillGrace is the time between SIGTERM and SIGKILL this runner gives a
// script, its default applied: how long a shutdown must wait for it.
func (rn *Runner) KillGrace() time.Duration { return rn.cfg.KillGrace }

// New checks cfg, fills in its defaults and returns a Runner. It fails when
// Root or Script is missing or unusable, and with [ErrRunAsRoot] when gatewayd
// runs as root without AllowRoot. log may be nil.
func New(cfg Config, log *zap.Logger) (*Runner, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if !cfg.AllowRoot && os.Geteuid() == 0 {
		return nil, ErrRunAsRoot
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rn := &Runner{
		cfg:     cfg,
		log:     log,
		obs:     cfg.Observer,
		drain:   make(chan struct{}),
		stop:    make(chan struct{}),
		killNow: make(chan struct{}),
	}
	if rn.obs == nil {
		rn.obs = NopObserver{}
	}
	rn.lim = newLimiter(cfg.MaxConcurrency, cfg.QueueSize, cfg.QueueTimeout)

	if cfg.Root == "" && cfg.Script == "" {
		return nil, fmt.Errorf("%w: root or script is required", ErrConfig)
	}
	if cfg.Root != "" {
		abs, real, err := resolveRoot(cfg.Root)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		rn.root, rn.rootDir = abs, real
	}
	if cfg.Script != "" {
		s, err := fixedScript(cfg.Script, rn.root)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		rn.script = s
	}
	for _, name := range cfg.PassEnv {
		if !validEnvName(name) {
			return nil, fmt.Errorf("%w: pass_env: invalid variable name %q", ErrConfig, name)
		}
		if v, ok := os.LookupEnv(name); ok {
			rn.baseEnv = append(rn.baseEnv, name+"="+v)
		} else if name == "PATH" {
			rn.baseEnv = append(rn.baseEnv, "PATH=/usr/local/bin:/usr/bin:/bin")
		}
	}
	for name, v := range cfg.Env {
		if !validEnvName(name) || !validEnvValue(v) {
			return nil, fmt.Errorf("%w: env: invalid variable %q", ErrConfig, name)
		}
	}
	rn.cont = newContainment(!cfg.noCgroup, log)
	log.Debug("cgi scripts are contained", zap.String("containment", rn.cont.mode()))
	return rn, nil
}

// Shutdown stops the Runner for a daemon that is going down: new and queued
// requests get 503, running scripts get SIGTERM to their process group and
// SIGKILL KillGrace later, or at once when ctx ends. It returns when every
// request has finished, or ctx's error when ctx ends first.
func (rn *Runner) Shutdown(ctx context.Context) error {
	rn.Drain()
	rn.mu.Lock()
	if !rn.closed {
		rn.closed = true
		close(rn.stop)
	}
	rn.mu.Unlock()
	done := make(chan struct{})
	go func() {
		rn.active.Wait()
		close(done)
	}()
	// Whichever way the requests end, then the orphans go and the reaper
	// stops.
	defer func() {
		rn.cont.shutdown()
		rn.cont.close()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		rn.mu.Lock()
		select {
		case <-rn.killNow:
		default:
			close(rn.killNow)
		}
		rn.mu.Unlock()
		// SIGKILL is immediate: wait for the scripts to be reaped, so that
		// a daemon exiting after Shutdown leaves no process behind.
		select {
		case <-done:
		case <-time.After(reapWait):
		}
		return ctx.Err()
	}
}

// Drain begins a graceful stop: requests waiting for a slot, and those
// that arrive to find none free, are answered 503 with Retry-After at
// once, while running scripts carry on. A daemon calls it as its shutdown
// begins, so that a queued request gets its 503 rather than waiting for a
// slot until the front end gives up on it. A request that arrives and
// finds a slot free still runs: the web server sent it on a connection it
// opened before the stop (one the listener's close took from its queue, or
// a kept-alive one), and the shutdown's timeout bounds it like the others.
// Shutdown drains too, and refuses every request after it.
func (rn *Runner) Drain() {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	select {
	case <-rn.drain:
	default:
		close(rn.drain)
	}
}

// reapWait bounds how long Shutdown waits for killed scripts to be reaped.
const reapWait = 2 * time.Second

// enter counts a request in, or reports that the Runner is shut down.
func (rn *Runner) enter() bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.closed {
		return false
	}
	rn.active.Add(1)
	return true
}

// ServeHTTP runs the script the request names.
func (rn *Runner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	env, ok := environ.FromContext(ctx)
	if !ok {
		env = environ.FromRequest(r, environ.Options{})
	}
	info := handler.InfoFrom(ctx)
	var reqID string
	if info != nil {
		reqID = info.ID
	}
	log := rn.log.With(zap.String("request_id", reqID))
	if !rn.enter() {
		rn.obs.Rejected(RejectShutdown)
		unavailable(w)
		return
	}
	out := rn.serveCounted(ctx, w, r, env, info, log)
	switch {
	case out.redirect != "":
		rn.localRedirect(w, r, env, out.redirect, log)
	case out.abort:
		// The core (or net/http) cuts the response short, so the client
		// can tell it is incomplete.
		panic(http.ErrAbortHandler)
	}
}

func (rn *Runner) serveCounted(ctx context.Context, w http.ResponseWriter, r *http.Request, env environ.Env, info *handler.Info, log *zap.Logger) outcome {
	defer rn.active.Done()
	return rn.serve(ctx, w, r, env, info, log)
}

// serve runs one script; it returns what ServeHTTP still has to do once
// the script and its slot are released.
func (rn *Runner) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, env environ.Env, info *handler.Info, log *zap.Logger) outcome {
	s, scriptName, pathInfo, status := rn.selectScript(env, log)
	if status != 0 {
		httpError(w, status)
		return outcome{}
	}
	log = log.With(zap.String("script", s.name))

	body, status := rn.prepareBody(env, r, log)
	defer body.close()
	if status != 0 {
		httpError(w, status)
		return outcome{}
	}

	info.SetPhase(handler.PhaseQueued)
	wait, err := rn.lim.acquire(ctx, rn.drain, func() { log.Debug("waiting for a cgi slot") })
	if err != nil {
		switch {
		case errors.Is(err, errQueueFull):
			rn.obs.Rejected(RejectQueueFull)
			if ok, n := rn.fullLog.Allow(time.Now()); ok {
				log.Warn("cgi queue full; answered 503", zap.Int("max_concurrency", rn.cfg.MaxConcurrency),
					zap.Int("queue_size", rn.cfg.QueueSize), zap.Int64("suppressed", n))
			}
		case errors.Is(err, errQueueTimeout):
			rn.obs.Rejected(RejectQueueTimeout)
			if ok, n := rn.waitLog.Allow(time.Now()); ok {
				log.Warn("no cgi slot within queue_timeout; answered 503", zap.Duration("queue_timeout", rn.cfg.QueueTimeout),
					zap.Int64("suppressed", n))
			}
		case errors.Is(err, errStopped):
			rn.obs.Rejected(RejectShutdown)
		default: // the client went away while queued
			return outcome{}
		}
		unavailable(w)
		return outcome{}
	}
	// The slot is the script's: it is given back when the request ends, or
	// as soon as a stopped script's tree is gone, even if the request
	// still waits for a client that does not read.
	var once sync.Once
	free := func() { once.Do(rn.lim.release) }
	defer free()
	// The slot is taken: the status page counts it busy, so the request is
	// no longer "queued" there, though its process may take a while to
	// start (its pid comes with ScriptStarted).
	info.SetPhase(handler.PhaseScript)
	rn.obs.QueueWait(wait)
	info.QueueWaited(wait)

	childEnv, dropped := rn.childEnv(env, s, scriptName, pathInfo, body)
	if info != nil {
		childEnv = append(childEnv, handler.RequestIDVar+"="+info.ID)
	}
	for _, name := range dropped {
		log.Warn("dropped a variable that cannot be put in an environment", zap.String("name", name))
	}
	return rn.run(ctx, w, r.Method, s, childEnv, body, info, free, log)
}

// outcome is what is left to do after a script ran.
type outcome struct {
	redirect string // a local redirect to serve
	abort    bool   // cut the response short
}

// httpError answers status with a short plain-text body.
func httpError(w http.ResponseWriter, status int) {
	handler.Error(w, status)
}

func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	httpError(w, http.StatusServiceUnavailable)
}
