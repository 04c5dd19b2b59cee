package fcgiupstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/yookoala/gofast"
	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/docroot"
	"github.com/gatewayd/gatewayd/internal/sockaddr"
)

// Defaults for the zero values of Config.
const (
	DefaultIndex           = "index.php"
	DefaultMaxConns        = 8
	DefaultConnectTimeout  = 5 * time.Second
	DefaultUpstreamTimeout = 60 * time.Second
	DefaultMaxSpoolBytes   = 64 << 20
	DefaultIdleTimeout     = 60 * time.Second
)

// Errors New returns, and the causes a failed request is logged with.
var (
	ErrNoUpstream  = errors.New("fcgiupstream: upstream is required")
	ErrNoRoot      = errors.New("fcgiupstream: root is required")
	ErrBadUpstream = errors.New("fcgiupstream: upstream must be unix:/path or host:port")
	ErrBadIndex    = errors.New("fcgiupstream: index must be a file name")
	ErrConnect     = errors.New("fcgiupstream: cannot connect to the upstream")
	ErrTimeout     = errors.New("fcgiupstream: upstream timed out")
	ErrProtocol    = errors.New("fcgiupstream: upstream broke the protocol")
	ErrTooLarge    = errors.New("fcgiupstream: request body larger than max_spool_bytes")
)

// Config configures an [Upstream]. Only Upstream and Root are required.
type Config struct {
	// Upstream is the FastCGI application's address: "unix:/path/to.sock"
	// or "host:port". Required.
	Upstream string
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
)

// Observer watches an Upstream, for metrics. Its methods are called from
// request goroutines and must be safe for concurrent use and quick.
type Observer interface {
	// Request is called once for each request sent upstream, when it ends.
	Request(outcome Outcome, d time.Duration)
	// Pool is called when the number of connections in use or open changes.
	Pool(inUse, open int)
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
	pool     *pool
	name     string // the upstream as configured
}

var _ http.Handler = (*Upstream)(nil)

// New checks cfg, opens the root and returns the app. It does not connect:
// the first request does. log may be nil.
func New(cfg Config, log *zap.Logger) (*Upstream, error) {
	if cfg.Upstream == "" {
		return nil, ErrNoUpstream
	}
	if cfg.Root == "" {
		return nil, ErrNoRoot
	}
	network, address, err := parseUpstream(cfg.Upstream)
	if err != nil {
		return nil, err
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
	log = log.With(zap.String("upstream", cfg.Upstream))
	return &Upstream{
		root:     root,
		dir:      dir,
		index:    cfg.Index,
		exts:     cfg.Extensions,
		files:    cfg.Files,
		timeout:  cfg.UpstreamTimeout,
		maxSpool: cfg.MaxSpoolBytes,
		spoolDir: cfg.SpoolDir,
		obs:      cfg.Observer,
		log:      log,
		name:     cfg.Upstream,
		pool: newPool(network, address, cfg.MaxConns, cfg.ConnectTimeout,
			cfg.UpstreamTimeout, cfg.IdleTimeout, cfg.Observer),
	}, nil
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
	u.pool.close()
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
	log := u.log.With(zap.String("request_id", id))

	t := u.resolve(env["PATH_INFO"])
	if t.status != 0 {
		switch {
		case t.file && u.files != nil:
			u.files.ServeHTTP(w, r)
		case t.status == http.StatusMovedPermanently:
			redirectSlash(w, env["SCRIPT_NAME"], t.dir, env["QUERY_STRING"])
		default:
			if t.status == http.StatusBadRequest {
				log.Info("refused a path outside the root", zap.String("path_info", env["PATH_INFO"]))
			}
			http.Error(w, statusText(t.status), t.status)
		}
		return
	}

	params := u.params(env, t)
	if info != nil {
		params[handler.RequestIDVar] = info.ID
	}
	var body io.Reader
	var sp *spooled
	switch {
	case r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0:
	case r.ContentLength > 0:
		// Never more than announced, whatever the front end's reader does.
		body = io.LimitReader(r.Body, r.ContentLength)
		if params["CONTENT_LENGTH"] == "" {
			params["CONTENT_LENGTH"] = strconv.FormatInt(r.ContentLength, 10)
		}
	default:
		var err error
		sp, err = spool(r.Body, max(u.maxSpool, 0), u.spoolDir)
		if errors.Is(err, ErrTooLarge) && u.maxSpool < 0 {
			http.Error(w, statusText(http.StatusLengthRequired), http.StatusLengthRequired)
			return
		}
		if errors.Is(err, ErrTooLarge) {
			log.Info("request body too large", zap.Int64("max_spool_bytes", u.maxSpool))
			http.Error(w, statusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
			return
		}
		if err != nil {
			log.Info("reading the request body", zap.Error(err))
			http.Error(w, statusText(http.StatusBadRequest), http.StatusBadRequest)
			return
		}
		defer sp.close()
		if sp.size > 0 {
			body = sp
			params["CONTENT_LENGTH"] = strconv.FormatInt(sp.size, 10)
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
	if appStatus, ok := u.forward(ctx, w, r, params, body, sp, log, outcome); ok && info != nil {
		info.AppStatus = int(appStatus)
	}
}

func setOutcome(p *Outcome, o Outcome) {
	if p != nil {
		*p = o
	}
}

// params is the request's environment as the upstream gets it
// (docroot.Params, which `gatewayd request --root` sends too).
func (u *Upstream) params(env environ.Env, t target) map[string]string {
	return docroot.Params(env, u.dir, docroot.Target{Script: t.script, PathInfo: t.pathInfo})
}

// forward sends the request upstream and relays the answer, once more on a
// new connection when a reused one turns out to have been closed by the
// upstream before it took the request. It reports the upstream's app status
// when the upstream answered.
func (u *Upstream) forward(ctx context.Context, w http.ResponseWriter, r *http.Request,
	params map[string]string, body io.Reader, sp *spooled, log *zap.Logger, outcome *Outcome) (uint32, bool) {
	for attempt := 0; ; attempt++ {
		gctx, cancel := context.WithTimeout(ctx, u.timeout)
		c, err := u.pool.get(gctx, attempt > 0)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				u.pool.failed(err)
			}
			status := http.StatusBadGateway
			switch {
			case errors.Is(err, ErrTimeout):
				log.Warn("upstream unavailable", zap.Error(err))
				setOutcome(outcome, OutcomeTimeout)
				status = http.StatusGatewayTimeout
			case errors.Is(err, ErrConnect):
				log.Error("upstream unavailable", zap.Error(err))
				setOutcome(outcome, OutcomeConnect)
			}
			http.Error(w, statusText(status), status)
			return 0, false
		}

		if info := handler.InfoFrom(ctx); info != nil {
			info.QueueWaited(c.waited)
			info.UpstreamConnected(u.name, c.dialed)
		}
		ex := u.exchange(ctx, c, w, r, params, body, log)
		replayable := body == nil || sp != nil || ex.bodyRead == 0
		if ex.stale && attempt == 0 && replayable && (idempotent(r.Method) || ex.st.writeErr != nil) {
			u.pool.put(c, false)
			if sp != nil {
				if err := sp.rewind(); err != nil {
					log.Error("retrying", zap.Error(err))
					setOutcome(outcome, OutcomeProtocol)
					http.Error(w, statusText(http.StatusBadGateway), http.StatusBadGateway)
					return 0, false
				}
			}
			log.Debug("connection closed by the upstream; retrying on a new one",
				zap.NamedError("read", ex.st.readErr), zap.NamedError("write", ex.st.writeErr))
			continue
		}
		u.pool.put(c, ex.reusable)
		setOutcome(outcome, ex.outcome)
		if ex.outcome == OutcomeOK {
			return ex.st.appStatus, true
		}
		if ex.outcome != OutcomeCanceled {
			u.pool.failed(ex.cause)
		}
		u.fail(w, r, ex, log)
		return 0, false
	}
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
}

func (u *Upstream) exchange(ctx context.Context, c *conn, w http.ResponseWriter, r *http.Request,
	params map[string]string, body io.Reader, log *zap.Logger) exchanged {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stderr := &stderrLog{log: log}
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
	stderr.flush()
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
func (u *Upstream) fail(w http.ResponseWriter, r *http.Request, ex exchanged, log *zap.Logger) {
	if ex.outcome == OutcomeCanceled {
		log.Debug("request canceled", zap.Error(ex.cause))
		if ex.started {
			panic(http.ErrAbortHandler)
		}
		http.Error(w, statusText(http.StatusBadGateway), http.StatusBadGateway)
		return
	}
	log.Error("upstream request failed", zap.String("outcome", string(ex.outcome)),
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
