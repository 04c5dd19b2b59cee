package daemon

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/gatewayd/gatewayd/internal/gwtest"
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

// TestHTTPMaxConns: an http listener's max_conns reaches its front end:
// with its one connection serving a request (a CGI script waiting for the
// rest of its body), another is answered 503 with Retry-After and counted
// in gatewayd_listener_refused_connections_total.
func TestHTTPMaxConns(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "wait.sh")
	writeConfig(t, script, "#!/bin/sh\ncat >/dev/null\nprintf 'Content-Type: text/plain\\r\\n\\r\\ndone'\n")
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "g.yaml")
	writeConfig(t, path, "listeners:\n  - {name: h, protocol: http, address: \"127.0.0.1:0\", max_conns: 1}\n"+
		"metrics: {address: \"127.0.0.1:0\"}\nroutes:\n  - {prefix: /, app: cgi, allow_root: true, script: "+script+"}\n")
	d := newDaemon(t, path, Options{Log: zaptest.NewLogger(t)})
	d.Start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Shutdown(ctx)
	}()
	addr := d.Addrs()[0].String()
	held, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	held.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(held, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf.")
	metrics := func() string {
		resp, err := http.Get(d.MetricsURL())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// Nothing announces that the script runs: the metrics' in-flight
	// gauge does, once it is polled.
	if !gwtest.Eventually(10*time.Second, func() bool {
		return strings.Contains(metrics(), `gatewayd_requests_in_flight{listener="h",protocol="http"} 1`)
	}) {
		t.Fatalf("the held request never ran:\n%s", metrics())
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("a second connection with max_conns 1: %d %v", resp.StatusCode, resp.Header)
	}
	if want := `gatewayd_listener_refused_connections_total{listener="h",protocol="http"} 1`; !strings.Contains(metrics(), want) {
		t.Errorf("metrics lack %s:\n%s", want, metrics())
	}
	io.WriteString(held, "rest.")
	r, err := http.ReadResponse(bufio.NewReader(held), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 || string(b) != "done" {
		t.Errorf("the held request: %d %q", r.StatusCode, b)
	}
}
