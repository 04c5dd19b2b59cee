// Package scgi is gatewayd's SCGI front end: a server for the Simple Common
// Gateway Interface as Neil Schemenauer's protocol of 2008 defines it
// (http://python.ca/scgi/protocol.txt), with nginx's scgi_pass and Apache
// httpd's mod_proxy_scgi as the web servers in front.
//
// A request is a netstring ("LEN:" header block ","), the block being
// "name NUL value NUL" pairs whose first name is CONTENT_LENGTH (decimal
// digits, present even when 0) and one of which is SCGI with the value 1, no
// name twice; then exactly CONTENT_LENGTH body bytes. The answer is a
// CGI-style response ("Status: 200 OK", headers, blank line, body) written by
// the core ([handler.Handler.Serve] in gateway form), and the connection is
// closed after it: one request per connection.
//
// The server is strict about the head and lenient about nothing else:
//   - the netstring length must be digits without leading zeros ("0:," is
//     the empty block) and at most [Server.MaxHeaderBytes];
//   - the block must end in NUL, every name be non-empty, CONTENT_LENGTH come
//     first with a decimal value, SCGI be "1", and no name repeat;
//   - the whole head must arrive within [Server.ReadTimeout].
//
// Anything else is logged with the reason and the connection closed without
// an answer; the web server reports a bad gateway.
//
// The environment the peer sends is completed so that the same request
// reaches the app as it would over HTTP, FastCGI or CGI (see
// docs/scgi.md): an empty CONTENT_TYPE is dropped; CONTENT_LENGTH "0" is kept
// only when the client sent a Content-Length (nginx passes it on as
// HTTP_CONTENT_LENGTH) or the method is POST, PUT or PATCH; HTTP_CONTENT_LENGTH
// and HTTP_CONTENT_TYPE are dropped (RFC 3875 4.1.18); when PATH_INFO is
// missing it is derived from DOCUMENT_URI or REQUEST_URI, taking over a
// SCRIPT_NAME that holds the whole path (Apache's mod_proxy_scgi);
// GATEWAY_INTERFACE, SERVER_SOFTWARE, SCRIPT_NAME and QUERY_STRING get
// RFC 3875 values when missing.
//
// When the app fails after the response head went out ([handler.Result]
// Incomplete), a TCP connection is reset (SO_LINGER 0, then close) so that
// the web server sees an error rather than a clean end of a short response.
// A unix socket cannot be reset; it is closed.
//
// Not supported: keep-alive or pipelining (the protocol has neither), and
// noticing a client that went away before the app writes (SCGI has no abort
// message, and some clients half-close after the request, so an end of file
// from the peer is not taken as an abort). The request's context is cancelled
// when a write to the peer fails.
package scgi
