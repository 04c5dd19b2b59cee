// Package client is gatewayd on the other side of its protocols: it sends one
// request to a FastCGI, SCGI or HTTP application, or runs a CGI script once,
// the way gatewayd itself would, and reports what came back. It is the
// library behind the commands `gatewayd request` and `gatewayd probe`;
// package client/conform builds the conformance suite on it.
//
// Targets are URLs: fastcgi://HOST:PORT, fastcgi:///path/to.sock,
// scgi://HOST:PORT, scgi:///path/to.sock, http://HOST:PORT and (for Do)
// cgi:///path/to/script.
//
// The environment a request carries is the one gatewayd's own apps send for
// that path (core/environ.FromRequest, and with Request.Root the fastcgi
// app's script lookup, internal/docroot), so that what works here works
// through gatewayd. FastCGI records come from internal/fcgiwire, SCGI heads
// from internal/scgiwire, and response heads are read by core/cgiresp,
// the parser gatewayd's CGI runner uses.
//
// Every failure is an *Error whose Kind says which exit code the commands
// give it: connect, timeout, status, protocol or overloaded. Every exchange
// is bounded by the context's deadline, connection set-up included, and by
// Request.MaxBytes for what the peer sends.
package client
