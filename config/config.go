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
}

// Listener is one socket.
type Listener struct {
	// Name matches a systemd socket unit's FileDescriptorName for socket
	// activation. Default: "<protocol>".
	Name string `mapstructure:"name"`
	// Protocol is http, fastcgi or scgi. Required.
	Protocol string `mapstructure:"protocol"`
	// Address is host:port, or unix:/path/to.sock. Empty means the socket
	// must come from systemd socket activation under Name.
	Address string `mapstructure:"address"`
	// SocketMode is the file mode of a unix socket, in octal. Default "0660".
	SocketMode string `mapstructure:"socket_mode"`

	// HTTP front end.
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"` // default 10s
	IdleTimeout       time.Duration `mapstructure:"idle_timeout"`        // default 120s
	MaxHeaderBytes    int           `mapstructure:"max_header_bytes"`    // default 65536 (HTTP and SCGI)
	PassAuthorization bool          `mapstructure:"pass_authorization"`  // default false

	// FastCGI front end.
	MaxConns       int `mapstructure:"max_conns"`        // default 1024
	MaxReqs        int `mapstructure:"max_reqs"`         // per connection; default 64
	MaxParamsBytes int `mapstructure:"max_params_bytes"` // default 65536

	// SCGI and FastCGI: how long a peer may take to send a request's head.
	ReadTimeout time.Duration `mapstructure:"read_timeout"` // default 30s
	// FastCGI: how long the web server may leave gatewayd's output unread
	// before the connection is closed.
	WriteTimeout time.Duration `mapstructure:"write_timeout"` // default 60s
}

// Route mounts one app at a prefix.
type Route struct {
	// Prefix is matched against PATH_INFO on a segment boundary; the longest
	// wins. Required, starts with "/".
	Prefix string `mapstructure:"prefix"`
	// App is demo, static, cgi or fastcgi. Required.
	App string `mapstructure:"app"`

	// static, cgi and fastcgi: the directory files or scripts come from.
	Root string `mapstructure:"root"`
	// static: list directories without an index.html. Default false.
	List bool `mapstructure:"list"`
	// static (the same meaning for every app that serves files): "deny"
	// answers paths with a segment starting with "." (.env, .git/,
	// .htaccess) 403, all but /.well-known/; "allow" serves them. Default deny.
	Dotfiles string `mapstructure:"dotfiles"`

	// cgi: one script for the whole mount instead of scripts from Root.
	Script string `mapstructure:"script"`
	// cgi: how long a script may run. Default 60s.
	Timeout time.Duration `mapstructure:"timeout"`
	// cgi: time between SIGTERM and SIGKILL. Default 5s.
	KillGrace time.Duration `mapstructure:"kill_grace"`
	// cgi: scripts running at once. Default 2 × CPUs.
	MaxConcurrency int `mapstructure:"max_concurrency"`
	// cgi: requests that may wait for a slot; beyond them 503. Default = MaxConcurrency.
	QueueSize int `mapstructure:"queue_size"`
	// cgi: how long a request may wait for a slot. Default 5s.
	QueueTimeout time.Duration `mapstructure:"queue_timeout"`
	// cgi: the daemon's own environment variables passed to scripts.
	// Default ["PATH"] (PATH falls back to /usr/local/bin:/usr/bin:/bin).
	PassEnv []string `mapstructure:"pass_env"`
	// cgi: set to the script as given (e.g. {"GIT_PROJECT_ROOT": "/srv/git"}).
	Env map[string]string `mapstructure:"env"`
	// cgi: maximum bytes of the script's response head. Default 65536.
	MaxHeaderBytes int `mapstructure:"max_header_bytes"`
	// cgi and fastcgi: largest body without a length that is spooled to a
	// temporary file; beyond it 413. Default 64 MiB.
	MaxSpoolBytes int64 `mapstructure:"max_spool_bytes"`
	// cgi: allow running scripts while gatewayd runs as root. Default false.
	AllowRoot bool `mapstructure:"allow_root"`
	// cgi: local redirects followed per request. Default 10.
	MaxRedirects int `mapstructure:"max_redirects"`

	// fastcgi: unix:/path or host:port of the upstream. Required for fastcgi.
	Upstream string `mapstructure:"upstream"`
	// fastcgi: the script served for directory paths. Default "index.php".
	Index string `mapstructure:"index"`
	// fastcgi: upper bound on connections to the upstream; set it to the
	// upstream's worker count. Default 8.
	MaxConns int `mapstructure:"max_conns"`
	// fastcgi: connect timeout. Default 5s.
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
	// fastcgi (and cgi via Timeout): how long to wait for the upstream's answer. Default 60s.
	UpstreamTimeout time.Duration `mapstructure:"upstream_timeout"`
	// fastcgi: native (gatewayd's FastCGI client) or gofast (the
	// compatibility transport). Default native.
	Transport string `mapstructure:"transport"`
	// fastcgi: serve files under root that are not scripts (as the static
	// app does) instead of answering 403. Default false.
	StaticFiles bool `mapstructure:"static_files"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `mapstructure:"level"`
	// Format is json or console. Default json.
	Format string `mapstructure:"format"`
	// Access logs one line per request. Default true.
	Access bool `mapstructure:"access"`
}

// Metrics configures the metrics and health listener.
type Metrics struct {
	// Address is host:port; empty disables. Default 127.0.0.1:9464.
	Address string `mapstructure:"address"`
	// Path is where metrics are served. Default /metrics.
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
