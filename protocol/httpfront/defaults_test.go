package httpfront

import (
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

// TestNegativeIdleTimeoutIsNoKeepAlive: idle_timeout -1 is off, as nginx's
// keepalive_timeout 0: each response says "Connection: close" and the
// connection ends after it, so two pipelined requests get one answer.
// (-1 used to be refused by config, and net/http took it as an idle
// deadline already past.)
func TestNegativeIdleTimeoutIsNoKeepAlive(t *testing.T) {
	addr := start(t, demo.App{}, func(s *Server) { s.IdleTimeout = -1 })
	resps := rawResponses(t, addr, "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if len(resps) != 1 || !resps[0].Close {
		t.Errorf("%d responses, first closes: %v; want one, with Connection: close", len(resps), len(resps) > 0 && resps[0].Close)
	}
	// Zero is the default, with keep-alive: both are answered.
	addr = start(t, demo.App{})
	if resps := rawResponses(t, addr, "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"); len(resps) != 2 {
		t.Errorf("default idle_timeout: %d responses to two requests, want 2", len(resps))
	}
}

// TestNegativeLimitRefused: a limit that cannot be off makes Serve fail,
// naming it, instead of serving without it.
func TestNegativeLimitRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(*Server)
	}{
		{"ReadHeaderTimeout", func(s *Server) { s.ReadHeaderTimeout = -1 }},
		{"MaxHeaderBytes", func(s *Server) { s.MaxHeaderBytes = -1 }},
	} {
		s := &Server{Handler: &handler.Handler{App: demo.App{}}}
		c.set(s)
		err := s.Serve(gwtest.Listen(t))
		if err == nil || !strings.Contains(err.Error(), c.name+": ") {
			t.Errorf("%s -1: Serve = %v, want an error naming it", c.name, err)
		}
	}
}
