package scgi

import (
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

// TestNegativeLimitRefused: MaxConns and MaxHeaderBytes -1 ran with their
// defaults, and ReadTimeout -1 with no limit at all (a head that never
// comes held its connection for ever); a limit that cannot be off now
// makes Serve fail, naming it.
func TestNegativeLimitRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(*Server)
	}{
		{"MaxConns", func(s *Server) { s.MaxConns = -1 }},
		{"MaxHeaderBytes", func(s *Server) { s.MaxHeaderBytes = -1 }},
		{"ReadTimeout", func(s *Server) { s.ReadTimeout = -1 }},
	} {
		s := &Server{Handler: &handler.Handler{App: demo.App{}}}
		c.set(s)
		err := s.Serve(gwtest.Listen(t))
		if err == nil || !strings.Contains(err.Error(), c.name+": ") {
			t.Errorf("%s -1: Serve = %v, want an error naming it", c.name, err)
		}
	}
}
