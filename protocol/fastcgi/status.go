package fastcgi

import (
	"github.com/gatewayd/gatewayd/core/event"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// refusal is the word Observer.Refused reports for a refusing
// protocolStatus of FCGI_END_REQUEST.
func refusal(ps fcgiwire.ProtocolStatus) event.Refusal {
	switch ps {
	case fcgiwire.CantMpxConn:
		return event.RefuseCantMpxConn
	case fcgiwire.UnknownRole:
		return event.RefuseUnknownRole
	}
	return event.RefuseOverloaded
}
