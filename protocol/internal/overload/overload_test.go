package overload

import (
	"net"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestLogOneLinePerInterval: a flood of refusals is one line, which names
// the limit and the peer (a unix socket's unnamed peer as "unix").
func TestLogOneLinePerInterval(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	var l Log
	tcp := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}
	l.Refused(zap.New(core), "over max_conns", 8, tcp)
	for range 99 {
		l.Refused(zap.New(core), "over max_conns", 8, &net.UnixAddr{Name: "", Net: "unix"})
	}
	lines := logs.All()
	if len(lines) != 1 {
		t.Fatalf("%d lines for 100 refusals, want 1", len(lines))
	}
	f := lines[0].ContextMap()
	if f["max_conns"] != int64(8) || f["remote"] != "127.0.0.1:4000" || f["suppressed"] != int64(0) {
		t.Errorf("fields %v", f)
	}
	for _, a := range []net.Addr{nil, &net.UnixAddr{Net: "unix"}, &net.UnixAddr{Name: "@", Net: "unix"}} {
		if got := name(a); got != "unix" {
			t.Errorf("name(%v) = %q, want unix", a, got)
		}
	}
}
