//go:build linux

package fastcgi

import (
	"testing"

	"github.com/gatewayd/gatewayd/internal/rawio"
)

// TestConnectionsReadRaw: the connections the front end accepts read and
// write through internal/rawio (design.md, "Socket reads and writes keep
// their processor").
func TestConnectionsReadRaw(t *testing.T) {
	s := newServer(newTestApp())
	addr := startServer(t, s)
	c := dialTest(t, addr)
	c.get(1, "/hello")
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) == 0 {
		t.Fatal("no connection held after a request with FCGI_KEEP_CONN")
	}
	for sc := range s.conns {
		if _, ok := sc.rwc.(*rawio.Conn); !ok {
			t.Errorf("connection is a %T, not a *rawio.Conn", sc.rwc)
		}
	}
}
