// Package config is gatewayd's configuration: typed, with defaults, decoded
// strictly from YAML (unknown keys are errors) with GATEWAYD_* environment
// overrides, and validated with messages that name the bad key.
//
// docs/config.md lists every key; keep the two in step.
package config

import "time"

// Config is the whole configuration.
type Config struct {
	// Listeners are the sockets gatewayd serves. Default: one HTTP listener
	// on 127.0.0.1:8000.
	Listeners []Listener `mapstructure:"listeners"`
	// Routes mount apps by PATH_INFO prefix. Default: the demo app at "/".
	Routes []Route `mapstructure:"routes"`
	// Log configures logging.
	Log Log `mapstructure:"log"`
	// Metrics configures the Prometheus and health endpoint.
	Metrics Metrics `mapstructure:"metrics"`
	// Validate wraps every app in the conformance validator and logs
	// violations. Default false.
	Validate bool `mapstructure:"validate"`
	// ServerSoftware is SERVER_SOFTWARE and, in origin-server form, the
	// Server header. Default "gatewayd/<version>".
	ServerSoftware string `mapstructure:"server_software"`
	// ShutdownTimeout is how long SIGTERM waits for in-flight requests.
	// Default 30s.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// CGI configures gatewayd when a web server runs it as a CGI program.
	CGI CGIMode `mapstructure:"cgi"`

	// given holds the scalar keys the file or the environment set (Given).
	given map[string]bool
}

// Listener is one socket. Its limits and timeouts left at 0 stay 0 here:
// the front end fills in its own default (its DefaultX), which the
// comments below repeat for the reader and docs/config.md, held to the
// packages by a test, lists.
type Listener struct {
	// Name matches a systemd socket unit's FileDescriptorName for socket
	// activation. Default: "<protocol>".
	Name string `mapstructure:"name"`
	// Protocol is http, fastcgi or scgi. Required.
	Protocol string `mapstructure:"protocol"`
	// Address is host:port, or unix:/path/to.sock. Empty means the socket
	// must come from systemd socket activation under Name.
	Address string `mapstructure:"address"`
	// SocketMode is the file mode of a unix socket, written in octal, quoted
	// or not ("0660", 0660, 660 all mean rw-rw----). Default "0660".
	SocketMode string `mapstructure:"socket_mode"`
	// SocketGroup is the group (name or number) a unix socket is given, the
	// web server's (www-data), as php-fpm's listen.group. Default: the
	// process's group, or the directory's when it is setgid. A process that
	// is not root may only name a group it belongs to, or the group a setgid
	// directory already gives the socket.
	SocketGroup string `mapstructure:"socket_group"`
	// SocketOwner is the user (name or number) a unix socket is given; only
	// root may set it. Default: the process's user.
	SocketOwner string `mapstructure:"socket_owner"`

	// HTTP front end.
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"` // default 10s
	IdleTimeout       time.Duration `mapstructure:"idle_timeout"`        // default 120s
	MaxHeaderBytes    int           `mapstructure:"max_header_bytes"`    // default 65536 (HTTP and SCGI)
	PassAuthorization bool          `mapstructure:"pass_authorization"`  // default false

	// Every front end: connections served at once. FastCGI front end:
	// the rest.
	MaxConns       int `mapstructure:"max_conns"`        // default 1024
	MaxReqs        int `mapstructure:"max_reqs"`         // per connection; default 64
	MaxParamsBytes int `mapstructure:"max_params_bytes"` // default 65536

	// SCGI and FastCGI: how long a peer may take to send a request's head.
	ReadTimeout time.Duration `mapstructure:"read_timeout"` // default 30s
	// All front ends: how long the peer may leave gatewayd's output unread
	// (one write's wait) before the connection is closed.
	WriteTimeout time.Duration `mapstructure:"write_timeout"` // default 60s

	// RequestID says where a request's id comes from and whether it is
	// sent back.
	RequestID RequestID `mapstructure:"request_id"`
}

// RequestID configures request ids on one listener.
type RequestID struct {
	// TrustHeader takes the id from the request's X-Request-Id header
	// (1 to 128 visible ASCII characters) instead of making one. Default
	// false; set it only behind a front that sets or clears the header.
	TrustHeader bool `mapstructure:"trust_header"`
	// ResponseHeader sends the id back as X-Request-Id. Default false.
	ResponseHeader bool `mapstructure:"response_header"`
}

// Route mounts one app at a prefix. The apps tag of each field names the
// apps that read it: a key another app's route sets is refused, so that a
// "timeout" under a static route is an error and not a silent no-op. As for
// a Listener, the limits and timeouts left at 0 are filled in by the app.
type Route struct {
	// Prefix is matched against PATH_INFO on a segment boundary; the longest
	// wins. Required, starts with "/".
	Prefix string `mapstructure:"prefix" apps:"all"`
	// App is demo, static, cgi or fastcgi. Required.
	App string `mapstructure:"app" apps:"all"`

	// static, cgi and fastcgi: the directory files or scripts come from.
	Root string `mapstructure:"root" apps:"static,cgi,fastcgi"`
	// static: list directories without an index.html. Default false.
	List bool `mapstructure:"list" apps:"static"`
	// static (the same meaning for every app that serves files): "deny"
	// answers paths with a segment starting with "." (.env, .git/,
	// .htaccess) 403, all but /.well-known/; "allow" serves them. Default deny.
	Dotfiles string `mapstructure:"dotfiles" apps:"static,fastcgi"`

	// cgi: one script for the whole mount instead of scripts from Root.
	Script string `mapstructure:"script" apps:"cgi"`
	// cgi: how long a script may run. Default 60s.
	Timeout time.Duration `mapstructure:"timeout" apps:"cgi"`
	// cgi: time between SIGTERM and SIGKILL. Default 5s.
	KillGrace time.Duration `mapstructure:"kill_grace" apps:"cgi"`
	// cgi: scripts running at once. Default 2 × CPUs.
	MaxConcurrency int `mapstructure:"max_concurrency" apps:"cgi"`
	// cgi: requests that may wait for a slot at once; one more gets 503. Default 1024.
	// fastcgi: the same, for a connection to the upstream.
	QueueSize int `mapstructure:"queue_size" apps:"cgi,fastcgi"`
	// cgi: the longest a request waits for a slot, then 503. Default 30s.
	// fastcgi: the same, for a connection to the upstream.
	QueueTimeout time.Duration `mapstructure:"queue_timeout" apps:"cgi,fastcgi"`
	// cgi: the daemon's own environment variables passed to scripts.
	// Default ["PATH"] (PATH falls back to /usr/local/bin:/usr/bin:/bin).
	PassEnv []string `mapstructure:"pass_env" apps:"cgi"`
	// cgi: set to the script as given (e.g. {"GIT_PROJECT_ROOT": "/srv/git"}).
	Env map[string]string `mapstructure:"env" apps:"cgi"`
	// cgi: maximum bytes of the script's response head. Default 65536.
	MaxHeaderBytes int `mapstructure:"max_header_bytes" apps:"cgi"`
	// cgi and fastcgi: largest body without a length that is spooled to a
	// temporary file; beyond it 413. Default 64 MiB.
	MaxSpoolBytes int64 `mapstructure:"max_spool_bytes" apps:"cgi,fastcgi"`
	// cgi: allow running scripts while gatewayd runs as root. Default false.
	AllowRoot bool `mapstructure:"allow_root" apps:"cgi"`
	// cgi: local redirects followed per request. Default 10.
	MaxRedirects int `mapstructure:"max_redirects" apps:"cgi,fastcgi"`

	// fastcgi: unix:/path or host:port of the upstream. Required for fastcgi.
	Upstream string `mapstructure:"upstream" apps:"fastcgi"`
	// fastcgi: the script served for directory paths. Default "index.php".
	Index string `mapstructure:"index" apps:"fastcgi"`
	// fastcgi: upper bound on connections to the upstream; set it to the
	// upstream's worker count. Default 8.
	MaxConns int `mapstructure:"max_conns" apps:"fastcgi"`
	// fastcgi: connect timeout. Default 5s.
	ConnectTimeout time.Duration `mapstructure:"connect_timeout" apps:"fastcgi"`
	// fastcgi (and cgi via Timeout): how long to wait for the upstream's answer. Default 60s.
	UpstreamTimeout time.Duration `mapstructure:"upstream_timeout" apps:"fastcgi"`
	// fastcgi: native (gatewayd's FastCGI client) or gofast (the
	// compatibility transport). Default native.
	Transport string `mapstructure:"transport" apps:"fastcgi"`
	// fastcgi: serve files under root that are not scripts (as the static
	// app does) instead of answering 403. Default false.
	StaticFiles bool `mapstructure:"static_files" apps:"fastcgi"`
	// fastcgi: several addresses of the same application (unix:/path,
	// host:port, or dns:name:port for every address name resolves to),
	// instead of upstream. Each gets max_conns connections.
	Upstreams []string `mapstructure:"upstreams" apps:"fastcgi"`
	// fastcgi: how often dns: upstreams are looked up again. Default 30s.
	ResolveInterval time.Duration `mapstructure:"resolve_interval" apps:"fastcgi"`
	// fastcgi: how many script lookups (path → script under root) are
	// kept, and for how long, so that a busy route does not stat its
	// script per request (nginx's open_file_cache). Defaults 1024 and 1s;
	// negative: off.
	LookupCacheSize int           `mapstructure:"lookup_cache_size" apps:"fastcgi"`
	LookupCacheTTL  time.Duration `mapstructure:"lookup_cache_ttl" apps:"fastcgi"`
	// fastcgi: active health checks of the upstream addresses; off when
	// its interval is 0 (the default).
	HealthCheck HealthCheck `mapstructure:"health_check" apps:"fastcgi"`
}

// HealthCheck configures a fastcgi route's active health checks.
type HealthCheck struct {
	// Interval between probes of each address. Default 0: passive health
	// only.
	Interval time.Duration `mapstructure:"interval"`
	// Path is the script path the probe GETs (answer below 500). Default
	// "": FCGI_GET_VALUES.
	Path string `mapstructure:"path"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `mapstructure:"level"`
	// Format is auto, json or console. Default auto: console when stderr
	// is a terminal, JSON otherwise.
	Format string `mapstructure:"format"`
	// Access logs one line per request. Default true.
	Access bool `mapstructure:"access"`
	// SlowRequest: a request that takes longer gets a warn line while it
	// runs and one when it ends, with its phases. Default 0: off.
	SlowRequest time.Duration `mapstructure:"slow_request"`
}

// Metrics configures the metrics and health listener.
type Metrics struct {
	// Address is host:port; empty disables. Default 127.0.0.1:9464.
	Address string `mapstructure:"address"`
	// Path is where metrics are served. Default (when empty) the metrics
	// package's, /metrics.
	Path string `mapstructure:"path"`
}

// CGIMode configures `gatewayd cgi`, one request per process.
type CGIMode struct {
	// IISPathDedup removes the copy of SCRIPT_NAME that IIS puts at the
	// front of PATH_INFO. Default false.
	IISPathDedup bool `mapstructure:"iis_path_dedup"`
	// NPH answers in origin-server form (HTTP status line, Date, Server)
	// whatever the script name. Default false: only nph-* names.
	NPH bool `mapstructure:"nph"`
}
