package fastcgi

import (
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

// TestNegativeLimitRefused: a negative limit ran with its default; one that
// cannot be off now makes Serve fail, naming it.
func TestNegativeLimitRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(*Server)
	}{
		{"MaxConns", func(s *Server) { s.MaxConns = -1 }},
		{"MaxReqs", func(s *Server) { s.MaxReqs = -1 }},
		{"MaxParamsBytes", func(s *Server) { s.MaxParamsBytes = -1 }},
		{"BodyBuffer", func(s *Server) { s.BodyBuffer = -1 }},
		{"ReadTimeout", func(s *Server) { s.ReadTimeout = -1 }},
		{"WriteTimeout", func(s *Server) { s.WriteTimeout = -1 }},
	} {
		s := &Server{Handler: &handler.Handler{App: demo.App{}}}
		c.set(s)
		err := s.Serve(gwtest.Listen(t))
		if err == nil || !strings.Contains(err.Error(), c.name+": ") {
			t.Errorf("%s -1: Serve = %v, want an error naming it", c.name, err)
		}
	}
}
