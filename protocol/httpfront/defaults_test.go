package httpfront

import (
	"testing"

	"github.com/gatewayd/gatewayd/app/demo"
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
