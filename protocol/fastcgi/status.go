package fastcgi

import (
	"github.com/gatewayd/gatewayd/core/event"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// ProtocolStatus is the protocolStatus of an FCGI_END_REQUEST record. The
// record layer lives in internal/fcgiwire; the type and its values are
// re-exported here for library users, who cannot import an internal
// package.
type ProtocolStatus = fcgiwire.ProtocolStatus

// The protocol statuses of FastCGI 1.0.
const (
	// RequestComplete is FCGI_REQUEST_COMPLETE: the request ran.
	RequestComplete = fcgiwire.RequestComplete
	// CantMpxConn is FCGI_CANT_MPX_CONN: a second concurrent request on a
	// connection that carries one at a time (max_reqs 1).
	CantMpxConn = fcgiwire.CantMpxConn
	// Overloaded is FCGI_OVERLOADED: over max_conns, or over max_reqs on a
	// multiplexed connection.
	Overloaded = fcgiwire.Overloaded
	// UnknownRole is FCGI_UNKNOWN_ROLE: a role this server does not play
	// (the Filter role).
	UnknownRole = fcgiwire.UnknownRole
)

// refusal is the word Observer.Refused reports for a refusing status.
func refusal(ps ProtocolStatus) event.Refusal {
	switch ps {
	case CantMpxConn:
		return event.RefuseCantMpxConn
	case UnknownRole:
		return event.RefuseUnknownRole
	}
	return event.RefuseOverloaded
}
