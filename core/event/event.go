// Package event holds the words in which apps and front ends tell their
// observers how something ended: how a CGI script exited, why a request got
// 503 without running, how a request forwarded upstream went, why the
// FastCGI front end refused a request.
//
// They are the values of observe/metrics' labels, written here once: the
// apps and front ends report them, the metrics package counts them, and
// neither imports the other. The words are a contract (docs/metrics.md);
// adding one is adding a label value.
package event

// Exit says how a CGI script ended.
type Exit string

// The exit classes.
const (
	// ExitOK: the script exited with status 0.
	ExitOK Exit = "ok"
	// ExitError: the script exited with a non-zero status.
	ExitError Exit = "error"
	// ExitSignal: a signal that gatewayd did not send ended the script.
	ExitSignal Exit = "signal"
	// ExitTimeout: gatewayd stopped the script at its timeout.
	ExitTimeout Exit = "timeout"
	// ExitCanceled: gatewayd stopped the script because the client went
	// away, its response was refused, or gatewayd is shutting down.
	ExitCanceled Exit = "canceled"
)

// Rejection says why a request got 503 with Retry-After without being run
// (by a CGI script) or forwarded (to a FastCGI upstream).
type Rejection string

// The reasons for a rejection.
const (
	// RejectQueueFull: every slot or connection was busy and the queue was
	// full.
	RejectQueueFull Rejection = "queue_full"
	// RejectQueueTimeout: no slot or connection came free within the
	// queue timeout.
	RejectQueueTimeout Rejection = "queue_timeout"
	// RejectShutdown: the app is shutting down (the CGI runner only).
	RejectShutdown Rejection = "shutdown"
)

// Forward is how a request forwarded to a FastCGI upstream ended.
type Forward string

// The outcomes of a forwarded request.
const (
	ForwardOK       Forward = "ok"       // the upstream answered
	ForwardConnect  Forward = "connect"  // no connection could be made: 502
	ForwardTimeout  Forward = "timeout"  // no free connection, or the upstream went silent: 504
	ForwardProtocol Forward = "protocol" // the upstream hung up or sent nonsense: 502
	ForwardCanceled Forward = "canceled" // the client went away first
	ForwardBusy     Forward = "busy"     // every connection busy past queue_size or queue_timeout: 503
)

// Refusal says why the FastCGI front end answered a request with
// FCGI_END_REQUEST without running the app: the record's protocolStatus,
// in lower case without its FCGI_ prefix.
type Refusal string

// The reasons for a refusal.
const (
	// RefuseOverloaded is FCGI_OVERLOADED: over max_conns, or over
	// max_reqs on a multiplexed connection.
	RefuseOverloaded Refusal = "overloaded"
	// RefuseCantMpxConn is FCGI_CANT_MPX_CONN: a second concurrent request
	// on a connection that carries one at a time.
	RefuseCantMpxConn Refusal = "cant_mpx_conn"
	// RefuseUnknownRole is FCGI_UNKNOWN_ROLE: a role the server does not
	// play (the Filter role).
	RefuseUnknownRole Refusal = "unknown_role"
)
