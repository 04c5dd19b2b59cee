// Package handler is gatewayd's BaseHandler: the one place where an
// environment becomes a call of an application and the application's answer
// becomes response bytes.
//
// A front end hands [Handler.Serve] a [Request] (the environment, the body
// stream and the error stream) and an output. The handler builds the
// *http.Request, runs the app with a ResponseWriter of its own and writes the
// response in one of two forms, like wsgiref's origin_server switch:
//
//   - origin server (NPH, a bare HTTP stream): "HTTP/1.1 200 OK", then Date
//     and Server unless the app set them;
//   - gateway (CGI, FastCGI, SCGI): "Status: 200 OK" and the headers.
//
// Front ends whose wire has its own framing (net/http) pass a [Sink] to
// [Handler.ServeSink] instead of a byte stream.
//
// The handler owns the response rules every front end shares: Content-Length
// when the whole body is known and never on 1xx, 204 or 304; HEAD answered
// with the headers of a GET and no body; header names and values with CR, LF
// or NUL refused; hop-by-hop headers from the app dropped; a fixed 500 page
// when the app fails before the head was sent, and a [Result] that tells the
// front end to cut the response short when it fails after.
//
// [Validate] wraps an app in a conformance checker in the spirit of
// wsgiref.validate.
package handler
