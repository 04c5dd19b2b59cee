package fcgiupstream

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gatewayd/gatewayd/core/event"
	"github.com/gatewayd/gatewayd/internal/docroot"
	"github.com/gatewayd/gatewayd/internal/setting"
	bodyspool "github.com/gatewayd/gatewayd/internal/spool"
)

// Defaults for the zero values of Config; the config file's fastcgi route
// keys of the same names take them from here.
const (
	DefaultIndex           = docroot.DefaultIndex
	DefaultMaxConns        = 8
	DefaultConnectTimeout  = 5 * time.Second
	DefaultUpstreamTimeout = 60 * time.Second
	DefaultMaxSpoolBytes   = bodyspool.DefaultMaxBytes
	DefaultIdleTimeout     = 60 * time.Second
	DefaultQueueTimeout    = 30 * time.Second
	DefaultQueueSize       = 1024
	DefaultResolveInterval = 30 * time.Second
	DefaultMaxRedirects    = 10
	DefaultLookupCacheSize = docroot.DefaultCacheSize
	DefaultLookupCacheTTL  = docroot.DefaultCacheTTL
)

// DefaultExtensions is Config.Extensions' default: [".php"].
func DefaultExtensions() []string { return docroot.DefaultExtensions() }

// withDefaults is cfg as it runs: each zero value replaced by its default
// (internal/setting's rule); a negative value is kept where it means off
// (the field says what off is) and refused where it cannot.
func (cfg Config) withDefaults() (Config, error) {
	if err := setting.Negative(
		setting.N("max_conns", cfg.MaxConns), setting.N("connect_timeout", cfg.ConnectTimeout),
		setting.N("upstream_timeout", cfg.UpstreamTimeout), setting.N("queue_timeout", cfg.QueueTimeout),
		setting.N("resolve_interval", cfg.ResolveInterval),
	); err != nil {
		return cfg, fmt.Errorf("fcgiupstream: %w", err)
	}
	cfg.ResolveInterval = setting.Or(cfg.ResolveInterval, DefaultResolveInterval)
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	cfg.Index = setting.Or(cfg.Index, DefaultIndex)
	if len(cfg.Extensions) == 0 {
		cfg.Extensions = DefaultExtensions()
	}
	cfg.MaxConns = setting.Or(cfg.MaxConns, DefaultMaxConns)
	cfg.ConnectTimeout = setting.Or(cfg.ConnectTimeout, DefaultConnectTimeout)
	cfg.UpstreamTimeout = setting.Or(cfg.UpstreamTimeout, DefaultUpstreamTimeout)
	cfg.MaxSpoolBytes = setting.Or(cfg.MaxSpoolBytes, DefaultMaxSpoolBytes) // negative: 411
	cfg.IdleTimeout = setting.Or(cfg.IdleTimeout, DefaultIdleTimeout)       // negative: no keep-alive
	cfg.Transport = setting.Or(cfg.Transport, TransportNative)
	cfg.QueueSize = max(setting.Or(cfg.QueueSize, DefaultQueueSize), 0) // negative: no queue
	cfg.QueueTimeout = setting.Or(cfg.QueueTimeout, DefaultQueueTimeout)
	cfg.MaxRedirects = setting.Or(cfg.MaxRedirects, DefaultMaxRedirects)          // negative: sent as 302
	cfg.LookupCacheSize = setting.Or(cfg.LookupCacheSize, DefaultLookupCacheSize) // negative: no cache
	cfg.LookupCacheTTL = setting.Or(cfg.LookupCacheTTL, DefaultLookupCacheTTL)    // negative: no cache
	return cfg, nil
}

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
	ErrNoGofast    = errors.New("fcgiupstream: transport gofast needs Config.Gofast (package gofastclient)")
)

// Client is a FastCGI client library serving as a transport, on one
// upstream connection: package gofastclient's Client, for the gofast
// transport. Do sends r as a responder request with params and stdin
// (nil: no body) and writes the answer to w; Close closes the connection.
type Client interface {
	Do(r *http.Request, params map[string]string, stdin io.ReadCloser, w http.ResponseWriter) error
	Close() error
}

// Config configures an [Upstream]. Only Upstream and Root are required.
// Its numbers follow the rule of gatewayd's config keys (package
// internal/setting): zero means the default written beside the field (a
// DefaultX of this package); negative means off where the field says what
// off is, and New refuses it for MaxConns, ConnectTimeout,
// UpstreamTimeout, QueueTimeout and ResolveInterval.
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
	// Gofast makes the gofast transport's client on an upstream
	// connection; New refuses Transport "gofast" without it. It is not a
	// default so that a program that does not offer the transport does not
	// link gofast (gatewayd-cgi): one that does sets
	//	func(c net.Conn) fcgiupstream.Client { return gofastclient.New(c) }
	Gofast func(net.Conn) Client
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

// Outcome is how a forwarded request ended. Its values are written once in
// core/event, where observe/metrics reads them as label values.
type Outcome = event.Forward

// Outcomes an Observer is told.
const (
	OutcomeOK       = event.ForwardOK       // the upstream answered
	OutcomeConnect  = event.ForwardConnect  // no connection could be made: 502
	OutcomeTimeout  = event.ForwardTimeout  // no free connection, or the upstream went silent: 504
	OutcomeProtocol = event.ForwardProtocol // the upstream hung up or sent nonsense: 502
	OutcomeCanceled = event.ForwardCanceled // the client went away first
	OutcomeBusy     = event.ForwardBusy     // every connection busy past queue_size or queue_timeout: 503
)

// Observer watches an Upstream, for metrics. Its methods are called from
// request goroutines and must be safe for concurrent use and quick.
type Observer interface {
	// Request is called once for each request sent upstream, when it ends.
	Request(outcome Outcome, d time.Duration)
	// Pool is called when the number of connections in use or open changes.
	Pool(inUse, open int)
	// QueueWait is how long a request waited for a connection (zero when
	// one was free).
	QueueWait(d time.Duration)
	// Rejected is a request answered 503 because every connection was
	// busy: reason is event.RejectQueueFull or event.RejectQueueTimeout.
	Rejected(reason event.Rejection)
	// Retried is a request sent again on a new connection.
	Retried()
	// Health is called when address becomes reachable (up) or not (a
	// connect failure), and once with the first connection; maxConns is
	// its bound.
	Health(address string, maxConns int, up bool)
}
