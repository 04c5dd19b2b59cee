// Package fcgiwire is the FastCGI 1.0 wire format, both directions: record
// headers and padding, name-value pairs, the bodies of BEGIN_REQUEST,
// END_REQUEST, UNKNOWN_TYPE, GET_VALUES and GET_VALUES_RESULT, a stream
// writer that splits bytes into records, and a record reader. It is the only
// place in gatewayd where FastCGI records exist: the FastCGI front end
// (protocol/fastcgi, the server side), the FastCGI upstream
// (app/fcgiupstream, the client side) and the client commands all build on
// it, and it imports nothing but the standard library, so that front ends and
// apps can share it without importing each other.
//
// The specification is FastCGI 1.0 (Open Market, 1996). What this package
// does not do: it holds no connection or request state (multiplexing,
// FCGI_KEEP_CONN, aborts and the order of streams are the caller's), it does
// not join a name-value stream that straddles records (callers collect the
// stream up to its empty record, within their own size limit, then decode it
// once), and it knows no role's semantics (Filter's DATA stream is only a
// record type here).
//
// Encoders append to a caller-owned []byte, so that a client can put
// BEGIN_REQUEST, the parameters, a small body and the stream terminators into
// one write, and a server can queue several answers into one.
package fcgiwire
