package httpfront

import (
	"net/http"
	"time"

	"github.com/gatewayd/gatewayd/core/handler"
)

// SetWriteDeadline lets an app cut a response whose client stopped reading
// (through the core's http.ResponseController support).
func (s *sink) SetWriteDeadline(t time.Time) error {
	if s.dl == nil {
		return http.ErrNotSupported
	}
	s.appDeadline.Store(true)
	return s.dl.SetWriteDeadline(t)
}

var _ handler.WriteDeadliner = (*sink)(nil)
