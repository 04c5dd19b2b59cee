package fastcgi

import (
	"testing"

	"github.com/gatewayd/gatewayd/core/event"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// TestRefusal: each refusing protocolStatus reaches Observer.Refused as
// its own word, the label value observe/metrics counts it under; a mix-up
// would move refusals between series.
func TestRefusal(t *testing.T) {
	for ps, want := range map[fcgiwire.ProtocolStatus]event.Refusal{
		fcgiwire.Overloaded:  event.RefuseOverloaded,
		fcgiwire.CantMpxConn: event.RefuseCantMpxConn,
		fcgiwire.UnknownRole: event.RefuseUnknownRole,
	} {
		if got := refusal(ps); got != want {
			t.Errorf("refusal(%v) = %q, want %q", ps, got, want)
		}
	}
}
