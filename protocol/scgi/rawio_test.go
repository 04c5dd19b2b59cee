//go:build linux

package scgi

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/internal/rawio"
)

// TestConnectionsReadRaw: the connections the front end accepts read and
// write through internal/rawio (design.md, "Socket reads and writes keep
// their processor").
func TestConnectionsReadRaw(t *testing.T) {
	held := make(chan struct{})
	release := make(chan struct{})
	addr, s, _ := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(held)
		<-release
	}), nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		exchange(addr, specRequest)
	}()
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the app")
	}
	s.mu.Lock()
	var conns []net.Conn
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	close(release)
	<-done
	if len(conns) != 1 {
		t.Fatalf("%d connections held while a request runs, want 1", len(conns))
	}
	if _, ok := conns[0].(*rawio.Conn); !ok {
		t.Errorf("connection is a %T, not a *rawio.Conn", conns[0])
	}
}
