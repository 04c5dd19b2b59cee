// Package fastcgi is gatewayd's FastCGI front end: a server that turns a web
// server's requests into a CGI environment, a body stream and an error
// stream, runs each through the core handler (core/handler, gateway form) and
// frames the response as FCGI_STDOUT records. The records themselves are
// internal/fcgiwire's, the codec it shares with the FastCGI upstream.
//
// Where each job lives: server.go (the Server, accepting and refusing
// connections, shutdown); limits.go (its limits, their defaults and what
// FCGI_GET_VALUES reports); conn.go (one connection's
// lifecycle: the reading loop, teardown, drain); records.go (each record
// type, from FCGI_BEGIN_REQUEST to the end of FCGI_PARAMS, where the request
// starts, and the answers given without running the app); stdin.go (routing
// FCGI_STDIN to a request's body buffer); bodybuffer.go (that buffer, in
// memory or spooled, as the app reads it); deadline.go (read deadlines);
// output.go (the output queue and its single writer, the lingering close);
// request.go (one request: its run through the core and its end records);
// env.go (the FastCGI part of the environment).
//
// Specification: FastCGI Specification 1.0 (Open Market, 1996), sections 3
// (records, name-value pairs, request ids) and 5–6 (management records,
// Responder and Authorizer roles).
//
// Supported: the Responder and Authorizer roles; FCGI_KEEP_CONN both ways;
// multiplexed requests on one connection (up to [Server.MaxReqs]), each with
// its own bounded body buffer, so that one slow body reader never stalls the
// others; FCGI_GET_VALUES (FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS from
// the real limits); FCGI_UNKNOWN_TYPE; FCGI_ABORT_REQUEST (the request's
// context is cancelled and it ends with one FCGI_END_REQUEST);
// FCGI_CANT_MPX_CONN and FCGI_OVERLOADED over the limits; appStatus from
// handler.Info.AppStatus; the app's error stream as FCGI_STDERR.
//
// Not supported: the Filter role (refused with FCGI_END_REQUEST
// protocolStatus FCGI_UNKNOWN_ROLE; its FCGI_DATA is ignored).
//
// Output: requests only queue their records; one writer per connection takes
// everything queued at once, so that a small response's STDOUT, the end of
// the stream and FCGI_END_REQUEST go out in one write, and concurrent
// responses share writes.
//
// Request bodies: up to [Server.BodyBuffer] bytes of a request's FCGI_STDIN
// wait in memory for its app. When that is full, a connection that can carry
// no other request (no FCGI_KEEP_CONN, or MaxReqs 1) stops being read until
// the app reads (TCP backpressure); any other connection goes on reading for
// its other requests and spools the rest of that body to an unlinked
// temporary file, up to [Server.MaxSpoolBytes]. Memory per connection is thus
// bounded by 4 KiB of read buffer (and a buffer as large as the largest
// record larger than that, at most 64 KiB), 256 KiB of queued output, and
// per request MaxParamsBytes plus BodyBuffer plus one record.
//
// Environment: empty CONTENT_LENGTH, CONTENT_TYPE, REMOTE_USER and AUTH_TYPE
// are dropped; a request with SCRIPT_NAME and no PATH_INFO (nginx's stock
// fastcgi_params) gets PATH_INFO = SCRIPT_NAME and SCRIPT_NAME = "" unless
// [Server.LiteralPaths]; FCGI_ROLE is set when the web server did not send it.
//
// A response the app cuts short after its head ([handler.Result.Incomplete])
// ends the connection without FCGI_END_REQUEST, so that the web server can
// tell. Malformed input gets a defined answer (FCGI_UNKNOWN_TYPE, a 400 or
// 431 response, or a closed connection) and a log line; see docs/fastcgi.md.
package fastcgi
