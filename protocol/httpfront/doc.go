// Package httpfront is gatewayd's HTTP/1.1 front end: an origin server on
// net/http. Each request is turned into the CGI environment a CGI server
// would build (environ.FromRequest: SERVER_*, REMOTE_*, REQUEST_URI, an empty
// SCRIPT_NAME, PATH_INFO, QUERY_STRING, HTTP_*) and run by the core handler in
// origin-server form, so that an app sees the same environment whether the
// request came over HTTP, FastCGI, SCGI or CGI.
//
// net/http provides keep-alive, HTTP/1.0 and 1.1, chunked request bodies and
// the status line; the core provides the response rules. HTTP/2 cleartext and
// TLS termination are not offered: gatewayd sits behind a web server that
// does them.
package httpfront
