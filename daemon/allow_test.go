package daemon

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/gatewayd/gatewayd/listener"
)

// TestAllowListRefusalsCounted: a connection FCGI_WEB_SERVER_ADDRS closes is
// counted in gatewayd_listener_refused_connections_total, as one over
// max_conns is; the log shows only one line per interval.
func TestAllowListRefusalsCounted(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := listener.AllowOnly(inner, []netip.Addr{netip.MustParseAddr("127.0.0.2")}, nil)
	path := filepath.Join(t.TempDir(), "g.yaml")
	writeConfig(t, path, "listeners:\n  - {name: f, protocol: fastcgi}\nmetrics: {address: \"127.0.0.1:0\"}\n")
	d := newDaemon(t, path, Options{Log: zaptest.NewLogger(t), Inherited: map[string]net.Listener{"f": l}})
	d.Start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Shutdown(ctx)
	}()
	const n = 3
	for range n {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		// The allow-list closes it without a byte; the count comes first.
		if b, err := io.ReadAll(c); len(b) != 0 || err != nil {
			t.Errorf("refused connection: %q, %v", b, err)
		}
		c.Close()
	}
	resp, err := http.Get("http://" + d.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf(`gatewayd_listener_refused_connections_total{listener="f",protocol="fastcgi"} %d`, n)
	if !strings.Contains(string(body), want) {
		t.Errorf("metrics lack %s:\n%s", want, body)
	}
}
