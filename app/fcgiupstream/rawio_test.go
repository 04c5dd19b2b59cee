//go:build linux

package fcgiupstream

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/gatewayd/gatewayd/internal/rawio"
)

// TestConnectionsReadRaw: the connections the pool dials read and write
// through internal/rawio (design.md, "Socket reads and writes keep their
// processor").
func TestConnectionsReadRaw(t *testing.T) {
	sock, _ := goUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	u := newUpstream(t, Config{Upstream: "unix:" + sock})
	if r := serve(t, u, reqEnv("GET", "/app.php"), nil); r.status != 200 {
		t.Fatalf("status %d, body %q", r.status, r.body)
	}
	p := u.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) != 1 {
		t.Fatalf("%d idle connections after one request, want 1", len(p.idle))
	}
	if _, ok := p.idle[0].Conn.(*rawio.Conn); !ok {
		t.Errorf("connection is a %T, not a *rawio.Conn", p.idle[0].Conn)
	}
}
