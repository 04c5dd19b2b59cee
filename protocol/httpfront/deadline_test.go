package httpfront

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

// deadlineCounter counts the write deadlines set on its connections.
type deadlineCounter struct {
	net.Listener
	n atomic.Int64
}

func (l *deadlineCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingDeadlines{Conn: c, n: &l.n}, nil
}

type countingDeadlines struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingDeadlines) SetWriteDeadline(t time.Time) error {
	c.n.Add(1)
	return c.Conn.SetWriteDeadline(t)
}

// A small response sets the write deadline once: net/http clears it after
// each request (one more call, not ours), and the end of the response needs
// no second move. An app that sets a deadline of its own (one in the past,
// after it flushed its body) still has the end of its response delivered, and the connection's
// next request is not cut by the deadline it left.
func TestWriteDeadlineOncePerResponse(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok "+r.URL.Path)
		if r.URL.Path == "/cut" {
			rc := http.NewResponseController(w)
			if err := rc.Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			if err := rc.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
				t.Errorf("SetWriteDeadline: %v", err)
			}
		}
	})
	s := &Server{Handler: &handler.Handler{App: app}, WriteTimeout: time.Minute}
	l := &deadlineCounter{Listener: gwtest.Listen(t)}
	gwtest.Serve(t, s, l, ErrServerClosed)
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	get := func(path string) {
		t.Helper()
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != "ok "+path {
			t.Fatalf("%s: %d %q %v", path, resp.StatusCode, b, err)
		}
	}
	for range 20 {
		get("/a")
	}
	if n := l.n.Load(); n > 2*20 {
		t.Errorf("%d write deadlines for 20 requests, want at most 40 (ours and net/http's clearing)", n)
	}
	get("/cut")
	get("/after-cut")
}
