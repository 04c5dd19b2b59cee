package cgiscript

import (
	"time"
)

// Config configures a [Runner]. Its field names follow the keys of a cgi
// route in gatewayd's configuration, and its numbers follow their rule
// (package internal/setting): zero means the default written beside the
// field (a DefaultX of this package), negative means off where the field
// says what off is, and New refuses it for the others.
type Config struct {
	// Root is the directory scripts come from: the first segment of
	// PATH_INFO names a script in it and the rest is the script's
	// PATH_INFO. It is also DOCUMENT_ROOT. Required unless Script is set.
	Root string
	// Script is one script for the whole mount: it gets all of PATH_INFO.
	// A relative Script is taken relative to Root. Default: none (scripts
	// come from Root).
	Script string
	// Timeout is how long a script may run, from its start to the end of
	// its output. Then its process group gets SIGTERM, and the client 504
	// if nothing was sent yet. Zero means 60s; negative means no limit.
	Timeout time.Duration
	// KillGrace is the time between SIGTERM and SIGKILL. Zero means 5s;
	// negative is refused.
	KillGrace time.Duration
	// MaxConcurrency is how many scripts run at once. Zero means 2 × the
	// number of CPUs; negative is refused.
	MaxConcurrency int
	// QueueSize is how many requests may wait at once for a free slot, in
	// the order they came; one more is answered 503 (with Retry-After) at
	// once. Zero means 1024, the FastCGI listener's default max_conns, so
	// that with defaults a burst waits as it would in fcgiwrap's listen
	// backlog; negative means no queue.
	QueueSize int
	// QueueTimeout is the longest a request waits in the queue for a slot;
	// then it is answered 503 (with Retry-After). Zero means 30s: bursts
	// wait, as behind fcgiwrap, and still get an answer before nginx's
	// default fastcgi_read_timeout (60s) answers 504 for them. Negative is
	// refused (QueueSize -1 is how requests do not wait).
	QueueTimeout time.Duration
	// PassEnv names the variables of gatewayd's own environment that
	// scripts get. Nil means ["PATH"]; an empty, non-nil list passes none.
	// A passed PATH that gatewayd does not have is
	// /usr/local/bin:/usr/bin:/bin.
	PassEnv []string
	// Env is set in every script's environment as given, after everything
	// else (so it can override a CGI variable). Default none.
	Env map[string]string
	// MaxHeaderBytes bounds the script's response head (its header lines
	// and the blank line). Zero means 65536; negative is refused.
	MaxHeaderBytes int
	// MaxSpoolBytes bounds a request body that arrives without a length
	// (chunked): it is spooled to a temporary file so that the script gets
	// CONTENT_LENGTH, and a larger one is answered 413. Zero means 64 MiB;
	// negative refuses such bodies with 411.
	MaxSpoolBytes int64
	// AllowRoot allows running scripts while gatewayd's effective user is
	// root. Default false: New fails with ErrRunAsRoot.
	AllowRoot bool
	// MaxRedirects is how many local redirects one request may follow;
	// one more is answered 500. Zero means 10; negative turns local
	// redirects off (they are sent to the client as 302).
	MaxRedirects int
	// Observer is told about scripts and the queue, for metrics. Nil means
	// none.
	Observer Observer

	// noCgroup holds trees by session even where cgroups are writable, so
	// that tests can run the fallback.
	noCgroup bool
}
