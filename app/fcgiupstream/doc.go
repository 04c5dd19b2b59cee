// Package fcgiupstream is gatewayd's FastCGI upstream app: it forwards
// requests to a FastCGI application server such as php-fpm, as nginx's
// fastcgi_pass does, with github.com/yookoala/gofast as the FastCGI client.
//
// The script is found on disk, under Config.Root: it is the first prefix of
// PATH_INFO that names a regular file (so "/info.php/extra/path" runs
// info.php with PATH_INFO "/extra/path"), or Config.Index in a directory.
// Only names with one of Config.Extensions (".php") are sent upstream.
// The request's own environment (FastCGI 1.0 PARAMS, RFC 3875
// meta-variables) goes to the upstream as it arrived, with SCRIPT_NAME,
// SCRIPT_FILENAME, PATH_INFO, PATH_TRANSLATED and DOCUMENT_ROOT set for the
// script, and never HTTP_PROXY (httpoxy, CVE-2016-5385). A request body
// without a length is spooled first (memory, then a temporary file, up to
// Config.MaxSpoolBytes, else 413) so that the upstream gets CONTENT_LENGTH.
//
// Connections: at most Config.MaxConns are ever open, and requests wait for
// one (up to Config.UpstreamTimeout) instead of opening more. php-fpm ties a
// worker to each open connection for as long as it stays open, so a client
// that holds more kept-alive connections than there are workers leaves
// requests queued on connections no worker will ever read. gofast's own
// ClientPool cannot promise the bound (its filler goroutine dials one
// connection beyond its size, returned clients wait in goroutines of their
// own, a dead connection stays in the pool until its time runs out, and its
// goroutine never ends), so the pool here is our own: one token per open
// connection, idle connections reused newest first, checked for a hang-up
// before reuse, closed after Config.IdleTimeout unused, and a request that
// meets a connection the upstream closed in the meantime (php-fpm's
// pm.max_requests, a restart) is sent again on a new one when that is safe.
//
// Answers of our own: 502 when the upstream cannot be reached or breaks the
// protocol, 504 when no connection frees up or the upstream stays silent
// for Config.UpstreamTimeout, 404 when no script matches, 403 for a file
// that is not a script (unless Config.Files serves it), 400 for a PATH_INFO
// with ".." or NUL, 301 to add the slash to a directory path. The upstream's
// FCGI_STDERR goes to the log, one entry per line, with the request id.
//
// Not supported: the Authorizer and Filter roles; multiplexing several
// requests on one connection (php-fpm does not); CGI local redirects (a
// "Location: /path" without Status is sent to the client as a 302, as
// gofast does); response header lines longer than 1024 bytes (gofast's
// limit: the answer is 502); flushing the response to the client before the
// upstream's output ends or fills the core's buffer.
package fcgiupstream
