package scgi

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/internal/gwtest"
)

// TestWriteTimeoutClientStopsReading: write_timeout lets go of a client
// that asks for a large response and never reads it, says so in the log,
// and the client never gets the whole answer.
func TestWriteTimeoutClientStopsReading(t *testing.T) {
	var logs *observer.ObservedLogs
	c := gwtest.WriteTimeoutClosesSilentReader(t, func(app http.Handler, connState func(net.Conn, http.ConnState)) string {
		var addr string
		addr, _, logs = startServer(t, app, func(s *Server) {
			s.WriteTimeout = 200 * time.Millisecond
			s.ConnState = connState
		})
		return addr
	}, head("0", "REQUEST_METHOD", "GET", "REQUEST_URI", "/big"))
	if logs.FilterMessageSnippet("write_timeout").Len() == 0 {
		t.Errorf("no log line names write_timeout: %v", logs.All())
	}
	// What the kernel had queued still arrives, then the end.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, _ := io.Copy(io.Discard, c); n >= 64<<20 {
		t.Errorf("the client read the whole %d-byte response after the timeout", n)
	}
}

// TestMaxConns: the connection over max_conns is answered 503 with
// Retry-After without reaching the app, and closed; once a slot is free,
// connections are served again. Every refusal is counted.
func TestMaxConns(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var calls atomic.Int32
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path == "/hold" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	})
	var refused atomic.Int32
	connState, closed := gwtest.ClosedConns(8)
	addr, _, logs := startServer(t, app, func(s *Server) {
		s.MaxConns = 1
		s.Refused = func(net.Conn) { refused.Add(1) }
		s.ConnState = connState
	})
	held := make(chan string, 1)
	go func() {
		got, _ := exchange(addr, head("0", "REQUEST_METHOD", "GET", "REQUEST_URI", "/hold"))
		held <- got
	}()
	<-entered
	for range 5 {
		got, err := roundTrip(t, addr, head("5", "REQUEST_METHOD", "POST", "REQUEST_URI", "/x")+"hello")
		if err != nil || !strings.HasPrefix(got, "Status: 503 Service Unavailable\r\n") || !strings.Contains(got, "Retry-After: 1\r\n") {
			t.Fatalf("connection over max_conns: %q %v", got, err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the app ran %d times, want once (refused requests must not reach it)", n)
	}
	if n := refused.Load(); n != 5 {
		t.Errorf("Refused called %d times, want 5", n)
	}
	if n := logs.FilterMessageSnippet("over max_conns").Len(); n != 1 {
		t.Errorf("%d log lines for 5 refused connections, want 1", n)
	}
	close(release)
	if got := <-held; !strings.HasSuffix(got, "ok") {
		t.Errorf("held request: %q", got)
	}
	// The slot is free again once the server has let go of the first
	// connection, which ConnState hears as http.StateClosed.
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the held connection was not closed")
	}
	got, err := roundTrip(t, addr, head("0", "REQUEST_METHOD", "GET", "REQUEST_URI", "/x"))
	if err != nil || !strings.HasPrefix(got, "Status: 200 OK\r\n") {
		t.Fatalf("after the slot was freed: %q %v", got, err)
	}
}

// TestPeerFaults: a head without REQUEST_METHOD is the web server's fault:
// 400, not the 500 page; malformed heads (a CONTENT_LENGTH that is not 1-18
// digits among them) close the connection, and a flood of them is logged
// once per interval.
func TestPeerFaults(t *testing.T) {
	addr, _, logs := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ran")
	}), nil)
	got, err := roundTrip(t, addr, head("0", "REQUEST_URI", "/x"))
	if err != nil || !strings.HasPrefix(got, "Status: 400 Bad Request\r\n") {
		t.Errorf("no REQUEST_METHOD: %q %v", got, err)
	}
	bad := []string{"-1", "+5", "1e3", " 5", "5 ", "0x10", "12345678901234567890", ""}
	for _, cl := range bad {
		got, _ := roundTrip(t, addr, head(cl, "REQUEST_METHOD", "GET")+"hello")
		if got != "" {
			t.Errorf("CONTENT_LENGTH %q: answered %q, want the connection closed", cl, got)
		}
	}
	if n := logs.FilterMessageSnippet("bad request head").Len(); n != 1 {
		t.Errorf("%d log lines for %d bad heads, want 1", n, len(bad))
	}
	if n := logs.FilterLevelExact(zap.ErrorLevel).Len(); n != 0 {
		t.Errorf("%d error lines for the peer's faults", n)
	}
}

// TestAppCutsABlockedWrite: an app (the CGI runner, when it stops a script)
// ends a write blocked on a client that reads nothing through
// http.ResponseController, long before write_timeout would.
func TestAppCutsABlockedWrite(t *testing.T) {
	gwtest.CutBlockedWrite(t, func(app http.Handler) string {
		addr, _, _ := startServer(t, app, func(s *Server) { s.WriteTimeout = time.Minute })
		return addr
	}, head("0", "REQUEST_METHOD", "GET", "REQUEST_URI", "/big"))
}

// TestDrainOutsideMaxConns: a connection whose app left the body unread is
// drained before its close, for as long as the web server keeps its side
// open; it is answered, no longer served, and must not have the next
// connection refused 503. Draining connections have a bound of their own,
// as many again.
func TestDrainOutsideMaxConns(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok") // the body stays unread
	})
	addr, s, _ := startServer(t, app, func(s *Server) { s.MaxConns = 1 })
	draining := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.draining)
	}
	// Half the body sent, the connection kept open: the server answers,
	// then drains what may still come.
	halfBody := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, head("10", "REQUEST_METHOD", "POST", "REQUEST_URI", "/x")+"12345"); err != nil {
			t.Fatal(err)
		}
		return c
	}
	b, err := io.ReadAll(halfBody()) // to the server's half-close
	if err != nil || !strings.HasPrefix(string(b), "Status: 200 OK\r\n") {
		t.Fatalf("first: %q %v", b, err)
	}
	if n := draining(); n != 1 {
		t.Fatalf("%d connections draining, want 1", n)
	}
	got, err := roundTrip(t, addr, head("0", "REQUEST_METHOD", "GET", "REQUEST_URI", "/x"))
	if err != nil || !strings.HasPrefix(got, "Status: 200 OK\r\n") {
		t.Fatalf("beside a draining connection: %q %v", got, err)
	}
	// At the bound: the next one is closed at once, not drained (its
	// answer may be lost to the reset; the count is what is held).
	_, _ = io.ReadAll(halfBody())
	if n := draining(); n > 1 {
		t.Errorf("%d connections draining, want at most 1", n)
	}
}
