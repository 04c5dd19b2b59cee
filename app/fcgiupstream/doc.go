// Package fcgiupstream is gatewayd's FastCGI upstream app: it forwards
// requests to a FastCGI application server such as php-fpm, as nginx's
// fastcgi_pass does. Its FastCGI client is its own (the native transport,
// on the shared record layer internal/fcgiwire); github.com/yookoala/gofast
// stays selectable as the compatibility transport (Config.Transport, with
// its client from package gofastclient in Config.Gofast, so that programs
// without it do not link gofast) and is the oracle the tests compare the
// native client against.
//
// The script is found on disk, under Config.Root: it is the first prefix of
// PATH_INFO that names a regular file (so "/info.php/extra/path" runs
// info.php with PATH_INFO "/extra/path"), or Config.Index in a directory.
// Only names with one of Config.Extensions (".php") are sent upstream;
// paths with a dotfile segment (".env", ".git/") are refused unless
// Config.AllowDotfiles. The request's own environment (FastCGI 1.0 PARAMS,
// RFC 3875 meta-variables) goes to the upstream as it arrived, with
// SCRIPT_NAME, SCRIPT_FILENAME, PATH_INFO, PATH_TRANSLATED and DOCUMENT_ROOT
// set for the script, and never HTTP_PROXY (httpoxy, CVE-2016-5385). A
// request body without a length is spooled first (memory, then a temporary
// file, up to Config.MaxSpoolBytes, else 413) so that the upstream gets
// CONTENT_LENGTH.
//
// The native transport runs in the request's goroutine: the parameters are
// encoded straight from the environment into one buffer that also carries a
// body of up to 32 KiB, so that a request is one write; a larger body is
// streamed by a second goroutine, so that an upstream that answers before
// reading its body cannot deadlock the request. Each connection reads
// through a 16 KiB buffer; the response head is parsed in place by
// core/cgiresp (the CGI runner's parser) within 64 KiB; deadlines are armed
// coarsely, not per read. The answer streams: it is pushed when the
// upstream pauses, and chunk by chunk for text/event-stream or
// "X-Accel-Buffering: no". Local redirects (RFC 3875 section 6.2.2) are
// served again through Config.Redirect, the router.
//
// Connections: at most Config.MaxConns are ever open, and requests wait for
// one in a bounded queue (Config.QueueSize, Config.QueueTimeout) instead of
// opening more; past either bound the answer is 503 with Retry-After.
// php-fpm ties a worker to each open connection for as long as it stays
// open, so a client that holds more kept-alive connections than there are
// workers leaves requests queued on connections no worker will ever read.
// gofast's own ClientPool cannot promise the bound, so the pool here is our
// own: one token per open connection, idle connections reused newest first,
// closed after Config.IdleTimeout unused, and a request that meets a
// connection the upstream closed in the meantime (php-fpm's
// pm.max_requests, a restart) is sent again on a new one when that is
// safe. Only a request that could not be sent again checks an idle
// connection for a hang-up before it takes it: a peek is a system call,
// and nginx does without.
//
// Answers of our own: 502 when the upstream cannot be reached or breaks the
// protocol (records for another request id, a head over 64 KiB or without
// end, no FCGI_END_REQUEST), 503 when every connection stays busy, 504 when
// the upstream stays silent for Config.UpstreamTimeout, 404 when no script
// matches, 403 for a file that is not a script (unless Config.Files serves
// it) and for dotfiles, 400 for a PATH_INFO with ".." or NUL, 301 to add
// the slash to a directory path. The upstream's FCGI_STDERR goes to the
// log, one entry per line, with the request id.
//
// Fleets (Config.Upstreams): several addresses of one application, each with
// a pool of its own, "dns:name:port" standing for every address the name
// resolves to (looked up every Config.ResolveInterval, through an injectable
// Resolver); a request goes to the address with the fewest in flight among
// those not backing off after failures, a failed connect is retried once on
// another address, and an address that leaves the DNS answer drains first.
//
// Active health checks (Config.HealthInterval) probe each address with
// FCGI_GET_VALUES or a GET of Config.HealthPath.
//
// Not supported: the Authorizer and Filter roles; multiplexing several
// requests on one connection (php-fpm does not). Through the
// gofast transport also: header lines over 1 KiB (502), local redirects
// (sent to the client as 302), records of other request ids (taken as the
// answer).
package fcgiupstream
