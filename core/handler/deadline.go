package handler

import (
	"net/http"
	"time"
)

// WriteDeadliner is what a Sink implements when its writes can be given a
// deadline: an app then reaches it through http.ResponseController, to cut
// a response whose client stopped reading (the CGI runner does, when it
// stops a script).
type WriteDeadliner interface {
	SetWriteDeadline(t time.Time) error
}

// SetWriteDeadline is for http.ResponseController: it sets the sink's
// write deadline, where the front end's sink has one. It may be called
// from another goroutine while a write blocks.
func (w *responseWriter) SetWriteDeadline(t time.Time) error {
	if d, ok := w.sink.(WriteDeadliner); ok {
		return d.SetWriteDeadline(t)
	}
	return http.ErrNotSupported
}
