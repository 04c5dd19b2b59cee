package fastcgi

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// TestPartialHeaderAfterRequest: on a kept connection that has served a
// request, a record header cut after 3 of its 8 bytes is bounded by
// read_timeout like any other partial record; it used to be waited for
// forever, because the read deadline was cleared before the header was read.
func TestPartialHeaderAfterRequest(t *testing.T) {
	s := newServer(newTestApp())
	s.ReadTimeout = 200 * time.Millisecond
	addr := startServer(t, s)
	c := dialTest(t, addr)
	if r := c.get(1, "/hello"); r.body() != "Hello" {
		t.Fatalf("first request: %q", r.stdout.String())
	}
	c.write(unhex("01 01 00"))
	c.waitClosed(5 * time.Second)
	waitConns(t, s, 0)
}

// TestMalformedRequestIs400: a web server's malformed CONTENT_LENGTH or a
// request without REQUEST_METHOD is its fault: 400 without running the app,
// a warning (not an error), and the connection carries on.
func TestMalformedRequestIs400(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	s := newServer(newTestApp())
	s.Log = zap.New(core)
	addr := startServer(t, s)
	c := dialTest(t, addr)
	id := uint16(0)
	for _, cl := range []string{"abc", "-1", "1e3", "+5", " 5", "5 ", "12345678901234567890", "0x10"} {
		id++
		p := getParams("/echo")
		p["REQUEST_METHOD"] = "POST"
		p["CONTENT_LENGTH"] = cl
		c.write(encodeRequest(id, roleResponder, flagKeepConn, p, []byte("hello"), false))
		r := c.wait(id, 5*time.Second)
		if !strings.HasPrefix(r.stdout.String(), "Status: 400 Bad Request\r\n") {
			t.Errorf("CONTENT_LENGTH %q: answer %q, want 400", cl, r.stdout.String())
		}
	}
	id++
	p := getParams("/hello")
	delete(p, "REQUEST_METHOD")
	c.write(encodeRequest(id, roleResponder, flagKeepConn, p, nil, false))
	if r := c.wait(id, 5*time.Second); !strings.HasPrefix(r.stdout.String(), "Status: 400 Bad Request\r\n") {
		t.Errorf("no REQUEST_METHOD: answer %q, want 400", r.stdout.String())
	}
	id++
	if r := c.get(id, "/hello"); r.body() != "Hello" {
		t.Errorf("the connection after the bad requests: %q", r.stdout.String())
	}
	if n := logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n != 0 {
		t.Errorf("%d error lines for the peer's faults: %v", n, logs.FilterLevelExact(zapcore.ErrorLevel).All())
	}
	// Nine bad requests in a row: one warning, the rest held back.
	if n := logs.FilterMessageSnippet("answering 400").Len(); n != 1 {
		t.Errorf("%d warnings for nine bad requests in one interval, want 1", n)
	}
}

// TestRefusedConnsRateLimited: connections over max_conns are each counted
// by the observer (a metric), but logged one line per interval: 20 of them
// used to write 20 warnings.
func TestRefusedConnsRateLimited(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	obs := &countObserver{}
	s := newServer(newTestApp())
	s.MaxConns = 1
	s.Observer = obs
	s.Log = zap.New(core)
	addr := startServer(t, s)
	c1 := dialTest(t, addr)
	c1.get(1, "/hello")
	const n = 20
	for range n {
		c := dialTest(t, addr)
		c.write(encodeRequest(1, roleResponder, 0, getParams("/hello"), nil, false))
		if r := c.wait(1, 5*time.Second); r.end.ProtocolStatus != fcgiwire.Overloaded {
			t.Fatalf("connection over max_conns: %+v", r.end)
		}
		c.waitClosed(5 * time.Second)
	}
	if got := obs.count("conn_refused"); got != n {
		t.Errorf("observer counted %d refused connections, want %d", got, n)
	}
	if got := logs.FilterMessageSnippet("over max_conns").Len(); got != 1 {
		t.Errorf("%d log lines for %d refused connections, want 1", got, n)
	}
}
