package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
	"github.com/gatewayd/gatewayd/internal/scgiwire"
)

// gatedListener holds its server's accept loop until it is closed, so that
// a test can leave connections in the kernel's queue and then shut down.
type gatedListener struct {
	net.Listener
	open      chan struct{}
	once      sync.Once
	accepting chan struct{} // closed when the server first calls Accept
	first     sync.Once
}

func (l *gatedListener) Accept() (net.Conn, error) {
	l.first.Do(func() { close(l.accepting) })
	<-l.open
	return l.Listener.Accept()
}

func (l *gatedListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.open) })
	return err
}

// TestShutdownAnswersQueuedConnections: connections a web server opened
// before SIGTERM, whose requests wait in the listen queue because the
// accept loop has not reached them, are answered by a graceful shutdown on
// every protocol. Before, the listener's close reset them (nginx: "upstream
// prematurely closed connection"), and the FastCGI and SCGI servers closed
// whatever they accepted once Shutdown had begun. For HTTP, net/http drops
// a request it reads after its Shutdown began (server.go, conn.serve: "if
// c.server.shuttingDown() { return }"), so the HTTP front end serves what
// the closed listener hands out before it calls that Shutdown.
func TestShutdownAnswersQueuedConnections(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "g.yaml")
	writeConfig(t, path, fmt.Sprintf(`listeners:
  - {name: f, protocol: fastcgi, address: "unix:%[1]s/f.sock"}
  - {name: s, protocol: scgi, address: "unix:%[1]s/s.sock"}
  - {name: h, protocol: http, address: "unix:%[1]s/h.sock"}
metrics: {address: ""}
`, dir))
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "answered "+r.URL.Path) })
	d := newDaemon(t, path, Options{Log: zaptest.NewLogger(t), App: app})
	for i, l := range d.listeners {
		d.listeners[i] = &gatedListener{Listener: l, open: make(chan struct{}), accepting: make(chan struct{})}
	}
	d.Start()
	// A Serve that starts after Shutdown began returns at once and its
	// listener's queue is reset, as before: the front ends are serving
	// when a stop comes, except in the first instants of a start.
	for _, l := range d.listeners {
		<-l.(*gatedListener).accepting
	}

	const n = 16
	type client struct {
		proto string
		c     net.Conn
		path  string
	}
	var clients []client
	for i, proto := range []string{"fastcgi", "scgi", "http"} {
		for j := range n {
			c, err := net.Dial("unix", d.Addrs()[i].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			p := fmt.Sprintf("/%s/%d", proto, j)
			if _, err := c.Write(requestBytes(proto, p)); err != nil {
				t.Fatal(err)
			}
			clients = append(clients, client{proto, c, p})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	for _, cl := range clients {
		cl.c.SetDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(cl.c)
		if err != nil {
			t.Errorf("%s %s: %v after %q", cl.proto, cl.path, err, got)
			continue
		}
		if !bytes.Contains(got, []byte("answered "+cl.path)) {
			t.Errorf("%s %s: got %q", cl.proto, cl.path, got)
		}
		if cl.proto == "fastcgi" && !bytes.Contains(got, fcgiwire.AppendEndRequest(nil, 1, 0, 0)) {
			t.Errorf("fastcgi %s: no FCGI_END_REQUEST in %q", cl.path, got)
		}
	}
}

// requestBytes is one complete GET of path in proto's wire format.
func requestBytes(proto, path string) []byte {
	env := map[string]string{
		"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost",
		"SERVER_PORT": "80", "SCRIPT_NAME": "", "PATH_INFO": path, "REQUEST_URI": path,
		"GATEWAY_INTERFACE": "CGI/1.1", "REMOTE_ADDR": "127.0.0.1",
	}
	switch proto {
	case "http":
		return []byte("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n")
	case "fastcgi":
		b := fcgiwire.AppendBeginRequest(nil, 1, fcgiwire.RoleResponder, 0)
		b = fcgiwire.AppendParams(b, 1, maps.All(env))
		return fcgiwire.AppendRecord(b, fcgiwire.TypeStdin, 1, nil)
	}
	return scgiwire.AppendRequest(nil, env, 0)
}

// TestShutdownRightAfterStart: a SIGTERM caught during start-up makes Run
// call Shutdown just after Start. The connections a web server queued
// before that are still answered: Start returns only once every front end
// accepts. Before, a front end whose Serve had not begun found the server
// closing, closed its listener and returned, resetting the queue.
func TestShutdownRightAfterStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "g.yaml")
	writeConfig(t, path, fmt.Sprintf(`listeners:
  - {name: f, protocol: fastcgi, address: "unix:%[1]s/f.sock"}
  - {name: s, protocol: scgi, address: "unix:%[1]s/s.sock"}
metrics: {address: ""}
`, dir))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "answered "+r.URL.Path) })
	for run := range 5 {
		d, err := New(cfg, Options{ConfigPath: path, Log: zaptest.NewLogger(t), App: app})
		if err != nil {
			t.Fatal(err)
		}
		var conns []net.Conn
		for i, proto := range []string{"fastcgi", "scgi"} {
			c, err := net.Dial("unix", d.Addrs()[i].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(requestBytes(proto, "/"+proto)); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		d.Start()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		stopped := make(chan error, 1)
		go func() { stopped <- d.Shutdown(ctx) }()
		for i, c := range conns {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c)
			if want := []string{"fastcgi", "scgi"}[i]; err != nil || !bytes.Contains(got, []byte("answered /"+want)) {
				t.Errorf("run %d: %s queued before Start: %q, %v", run, want, got, err)
			}
			// Closing ends the server's lingering close at once.
			c.Close()
		}
		if err := <-stopped; err != nil {
			t.Errorf("run %d: Shutdown: %v", run, err)
		}
		cancel()
	}
}
