package fastcgi

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

// newServer serves app with a countObserver, which waitConns needs.
func newServer(app *testApp) *Server {
	return &Server{Handler: &handler.Handler{App: app}, Observer: &countObserver{}}
}

func TestHello(t *testing.T) {
	addr := startServer(t, newServer(newTestApp()))
	c := dialTest(t, addr)
	r := c.get(1, "/hello")
	want := "Status: 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nHello"
	if got := r.stdout.String(); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if r.end != (endRequest{ProtocolStatus: fcgiwire.RequestComplete}) || r.ends != 1 {
		t.Errorf("end = %+v (%d), want complete once", r.end, r.ends)
	}
}

func TestGetValues(t *testing.T) {
	s := newServer(newTestApp())
	s.MaxConns, s.MaxReqs = 10, 4
	c := dialTest(t, startServer(t, s))
	q := appendPair(nil, "FCGI_MAX_CONNS", "")
	q = appendPair(q, "FCGI_MAX_REQS", "")
	q = appendPair(q, "FCGI_UNKNOWN_THING", "")
	q = appendPair(q, "FCGI_MPXS_CONNS", "")
	c.write(appendRecord(nil, typeGetValues, 0, q))
	got := c.mgmtRecord(5 * time.Second)
	want := appendPair(nil, "FCGI_MAX_CONNS", "10")
	want = appendPair(want, "FCGI_MAX_REQS", "40")
	want = appendPair(want, "FCGI_MPXS_CONNS", "1")
	if got.h.Type != typeGetValuesResult || got.h.ID != 0 || !bytes.Equal(got.content, want) {
		t.Errorf("GET_VALUES_RESULT %v % x, want % x", got.h.Type, got.content, want)
	}
	// Exact bytes of the whole answer record.
	if wantRec := appendRecord(nil, typeGetValuesResult, 0, want); !bytes.Equal(
		appendRecord(nil, got.h.Type, got.h.ID, got.content), wantRec) {
		t.Errorf("record bytes differ")
	}
	// The connection stays open: a request and a second query are answered.
	if r := c.get(1, "/hello"); r.body() != "Hello" {
		t.Errorf("request after GET_VALUES: %q", r.stdout.String())
	}
	c.write(appendRecord(nil, typeGetValues, 0, appendPair(nil, "FCGI_MPXS_CONNS", "")))
	if got := c.mgmtRecord(5 * time.Second); !bytes.Equal(got.content, appendPair(nil, "FCGI_MPXS_CONNS", "1")) {
		t.Errorf("second GET_VALUES: % x", got.content)
	}
	// No multiplexing with MaxReqs 1.
	s1 := newServer(newTestApp())
	s1.MaxReqs = 1
	c1 := dialTest(t, startServer(t, s1))
	c1.write(appendRecord(nil, typeGetValues, 0, appendPair(nil, "FCGI_MPXS_CONNS", "")))
	if got := c1.mgmtRecord(5 * time.Second); !bytes.Equal(got.content, appendPair(nil, "FCGI_MPXS_CONNS", "0")) {
		t.Errorf("GET_VALUES with max_reqs 1: % x", got.content)
	}
}

func TestUnknownManagementType(t *testing.T) {
	c := dialTest(t, startServer(t, newServer(newTestApp())))
	c.write(appendRecord(nil, 12, 0, []byte("whatever")))
	got := c.mgmtRecord(5 * time.Second)
	if b := appendRecord(nil, got.h.Type, got.h.ID, got.content); !bytes.Equal(b, unhex("01 0b 00 00 00 08 00 00 0c 00 00 00 00 00 00 00")) {
		t.Errorf("answer % x", b)
	}
	if r := c.get(1, "/hello"); r.body() != "Hello" {
		t.Errorf("connection unusable after UNKNOWN_TYPE: %q", r.stdout.String())
	}
}

func TestFilterRoleRefused(t *testing.T) {
	obs := &countObserver{}
	s := newServer(newTestApp())
	s.Observer = obs
	c := dialTest(t, startServer(t, s))
	b := appendBeginRequest(nil, 5, roleFilter, flagKeepConn)
	b = appendRecord(b, typeParams, 5, pairs(getParams("/hello")))
	b = appendRecord(b, typeParams, 5, nil)
	b = appendRecord(b, typeStdin, 5, nil)
	b = appendRecord(b, typeData, 5, []byte("data"))
	b = appendRecord(b, typeData, 5, nil)
	c.write(b)
	r := c.wait(5, 5*time.Second)
	if r.end.ProtocolStatus != fcgiwire.UnknownRole || r.stdout.Len() != 0 {
		t.Errorf("filter: end %+v, stdout %q", r.end, r.stdout.String())
	}
	c.reset(5)
	if r := c.get(5, "/hello"); r.body() != "Hello" {
		t.Errorf("after refusal: %q", r.stdout.String())
	}
	if obs.count("refused-unknown_role") != 1 {
		t.Errorf("observer: %v", obs.snapshot())
	}
}

func TestKeepConn(t *testing.T) {
	addr := startServer(t, newServer(newTestApp()))
	// FCGI_KEEP_CONN set: the connection carries request after request.
	c := dialTest(t, addr)
	for id := uint16(1); id <= 3; id++ {
		if r := c.get(id, "/hello"); r.body() != "Hello" {
			t.Fatalf("request %d: %q", id, r.stdout.String())
		}
	}
	if c.isClosed() {
		t.Fatal("keep-conn connection closed")
	}
	// Not set: the server closes after the response.
	c2 := dialTest(t, addr)
	c2.write(encodeRequest(1, roleResponder, 0, getParams("/hello"), nil, false))
	if r := c2.wait(1, 5*time.Second); r.body() != "Hello" {
		t.Errorf("response %q", r.stdout.String())
	}
	c2.waitClosed(5 * time.Second)
}

// One request whose app does not read its body yet must not delay another
// on the same connection, even when its body overflows the memory buffer.
func TestMultiplexStalledRequest(t *testing.T) {
	for _, size := range []int{10, 300 << 10} {
		app := newTestApp()
		s := newServer(app)
		s.BodyBuffer = 16 << 10
		s.SpoolDir = t.TempDir()
		c := dialTest(t, startServer(t, s))
		body := bytes.Repeat([]byte("abcdefgh"), size/8+1)[:size]
		// A's body comes in full but its app waits before reading it.
		c.write(encodeRequest(1, roleResponder, flagKeepConn, postParams("/slowecho", size), body, true))
		<-app.entered
		start := time.Now()
		c.write(encodeRequest(2, roleResponder, flagKeepConn, getParams("/hello"), nil, false))
		r2 := c.wait(2, 5*time.Second)
		if r2.body() != "Hello" {
			t.Fatalf("B: %q", r2.stdout.String())
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("B took %v behind a stalled A", d)
		}
		select {
		case <-c.resp(1).done:
			t.Fatal("A ended before its app was released")
		default:
		}
		c.write(appendRecord(nil, typeStdin, 1, nil))
		close(app.release)
		r1 := c.wait(1, 10*time.Second)
		if got := r1.body(); got != string(body) {
			t.Errorf("size %d: A echoed %d bytes (%q...), want %d", size, len(got), got[:min(len(got), 40)], size)
		}
		if strings.Contains(r1.stdout.String(), "X-Error") {
			t.Errorf("A's body read failed: %q", r1.stdout.String()[:200])
		}
	}
}

// Without FCGI_KEEP_CONN no other request can come, so a full body buffer
// pauses reading (TCP backpressure) instead of spooling.
func TestBodyBackpressure(t *testing.T) {
	app := newTestApp()
	s := newServer(app)
	s.BodyBuffer = 8 << 10
	s.SpoolDir = t.TempDir()
	c := dialTest(t, startServer(t, s))
	size := 1 << 20
	body := bytes.Repeat([]byte("0123456789"), size/10+1)[:size]
	go c.write(encodeRequest(1, roleResponder, 0, postParams("/slowecho", size), body, false))
	<-app.entered
	close(app.release)
	r := c.wait(1, 20*time.Second)
	if r.body() != string(body) {
		t.Errorf("echoed %d bytes, want %d", len(r.body()), size)
	}
	if ents, _ := os.ReadDir(s.SpoolDir); len(ents) != 0 {
		t.Errorf("spool files left: %v", ents)
	}
	c.waitClosed(5 * time.Second)
}

func TestResponseBeforeStdinEnds(t *testing.T) {
	c := dialTest(t, startServer(t, newServer(newTestApp())))
	// /hello does not read its body: it answers while STDIN is still open.
	c.write(encodeRequest(1, roleResponder, flagKeepConn, postParams("/hello", 100), []byte("part"), true))
	if r := c.wait(1, 5*time.Second); r.body() != "Hello" {
		t.Errorf("%q", r.stdout.String())
	}
	// The rest of its STDIN is ignored; the connection goes on.
	c.write(appendRecord(appendRecord(nil, typeStdin, 1, bytes.Repeat([]byte("x"), 96)), typeStdin, 1, nil))
	if r := c.get(2, "/hello"); r.body() != "Hello" {
		t.Errorf("%q", r.stdout.String())
	}
}

func TestAbort(t *testing.T) {
	app := newTestApp()
	obs := &countObserver{}
	s := newServer(app)
	s.Observer = obs
	c := dialTest(t, startServer(t, s))

	// A running request: its context is cancelled and it ends once.
	c.write(encodeRequest(1, roleResponder, flagKeepConn, getParams("/wait"), nil, false))
	<-app.entered
	c.write(appendRecord(nil, typeAbortRequest, 1, nil))
	select {
	case err := <-app.ctxErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("app context: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("app not cancelled")
	}
	r := c.wait(1, 5*time.Second)
	if r.end.ProtocolStatus != fcgiwire.RequestComplete {
		t.Errorf("end %+v", r.end)
	}

	// A request whose parameters have not ended: answered at once.
	b := appendBeginRequest(nil, 2, roleResponder, flagKeepConn)
	b = appendRecord(b, typeParams, 2, appendPair(nil, "REQUEST_METHOD", "GET"))
	b = appendRecord(b, typeAbortRequest, 2, nil)
	c.write(b)
	if r := c.wait(2, 5*time.Second); r.end.ProtocolStatus != fcgiwire.RequestComplete || r.stdout.Len() != 0 {
		t.Errorf("early abort: %+v %q", r.end, r.stdout.String())
	}
	// An unknown id: ignored.
	c.write(appendRecord(nil, typeAbortRequest, 99, nil))
	if r := c.get(3, "/hello"); r.body() != "Hello" {
		t.Errorf("%q", r.stdout.String())
	}
	// Exactly one END_REQUEST each, even with a late abort.
	c.write(appendRecord(nil, typeAbortRequest, 3, nil))
	c.write(appendRecord(nil, typeGetValues, 0, nil))
	c.mgmtRecord(5 * time.Second)
	for id := uint16(1); id <= 3; id++ {
		c.mu.Lock()
		n := c.resps[id].ends
		c.mu.Unlock()
		if n != 1 {
			t.Errorf("request %d: %d END_REQUESTs", id, n)
		}
	}
	if n := obs.count("aborted"); n != 2 {
		t.Errorf("observer saw %d aborts, want 2", n)
	}
}

func TestLimits(t *testing.T) {
	t.Run("max_reqs 1", func(t *testing.T) {
		app := newTestApp()
		s := newServer(app)
		s.MaxReqs = 1
		c := dialTest(t, startServer(t, s))
		c.write(encodeRequest(1, roleResponder, flagKeepConn, getParams("/wait"), nil, false))
		<-app.entered
		c.write(encodeRequest(2, roleResponder, flagKeepConn, getParams("/hello"), nil, false))
		if r := c.wait(2, 5*time.Second); r.end.ProtocolStatus != fcgiwire.CantMpxConn {
			t.Errorf("second request: %+v", r.end)
		}
		close(app.release)
		c.wait(1, 5*time.Second)
	})
	t.Run("max_reqs 2", func(t *testing.T) {
		app := newTestApp()
		s := newServer(app)
		s.MaxReqs = 2
		c := dialTest(t, startServer(t, s))
		for id := uint16(1); id <= 2; id++ {
			c.write(encodeRequest(id, roleResponder, flagKeepConn, getParams("/wait"), nil, false))
			<-app.entered
		}
		c.write(encodeRequest(3, roleResponder, flagKeepConn, getParams("/hello"), nil, false))
		if r := c.wait(3, 5*time.Second); r.end.ProtocolStatus != fcgiwire.Overloaded {
			t.Errorf("third request: %+v", r.end)
		}
		close(app.release)
		c.wait(1, 5*time.Second)
		c.wait(2, 5*time.Second)
		c.reset(3)
		if r := c.get(3, "/hello"); r.body() != "Hello" {
			t.Errorf("after the others ended: %q", r.stdout.String())
		}
	})
	t.Run("max_conns", func(t *testing.T) {
		obs := &countObserver{}
		s := newServer(newTestApp())
		s.MaxConns = 1
		s.Observer = obs
		addr := startServer(t, s)
		c1 := dialTest(t, addr)
		c1.get(1, "/hello")
		c2 := dialTest(t, addr)
		c2.write(encodeRequest(1, roleResponder, flagKeepConn, getParams("/hello"), nil, false))
		if r := c2.wait(1, 5*time.Second); r.end.ProtocolStatus != fcgiwire.Overloaded {
			t.Errorf("second connection: %+v", r.end)
		}
		c2.waitClosed(5 * time.Second)
		if r := c1.get(2, "/hello"); r.body() != "Hello" {
			t.Errorf("first connection: %q", r.stdout.String())
		}
		if obs.count("refused-overloaded") != 1 || obs.count("opened") != 1 {
			t.Errorf("observer: %v", obs.snapshot())
		}
	})
	// A connection answered without FCGI_KEEP_CONN drains until the web
	// server closes it: it is no longer served, and must not push the
	// next connection over max_conns (nginx turned that FCGI_OVERLOADED
	// into 502s at 256 clients). The draining ones have a bound of their
	// own, as many again: past it a connection is closed at once.
	t.Run("max_conns without lingering connections", func(t *testing.T) {
		s := newServer(newTestApp())
		s.MaxConns = 2
		addr := startServer(t, s)
		lingering := func() int {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.lingering
		}
		answerOnce := func(name string) {
			t.Helper()
			// The client keeps its side open: the server drains it.
			c := dialTest(t, addr)
			c.write(encodeRequest(1, roleResponder, 0, getParams("/hello"), nil, false))
			if r := c.wait(1, 5*time.Second); r.end.ProtocolStatus != fcgiwire.RequestComplete || r.body() != "Hello" {
				t.Fatalf("%s: %+v %q", name, r.end, r.stdout.String())
			}
			c.waitClosed(5 * time.Second) // the server's half-close
		}
		answerOnce("first")
		answerOnce("second")
		// Nothing announces the drain's start on the server's side.
		if !gwtest.Eventually(5*time.Second, func() bool { return lingering() == 2 }) {
			t.Fatalf("%d connections draining, want 2", lingering())
		}
		kept := dialTest(t, addr)
		if r := kept.get(1, "/hello"); r.end.ProtocolStatus != fcgiwire.RequestComplete || r.body() != "Hello" {
			t.Fatalf("a connection beside two draining ones: %+v %q", r.end, r.stdout.String())
		}
		// Draining ones at their bound: the next is closed, not kept.
		answerOnce("third")
		if n := lingering(); n > 2 {
			t.Errorf("%d connections draining, want at most 2", n)
		}
		// The client sees the close before the server's reader lets go of
		// the connection, and nothing announces that.
		served := func() int {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.active
		}
		if !gwtest.Eventually(5*time.Second, func() bool { return served() == 1 }) {
			t.Errorf("%d connections served, want the kept one", served())
		}
	})
}

func TestAppStatusAndStderr(t *testing.T) {
	c := dialTest(t, startServer(t, newServer(newTestApp())))
	if r := c.get(1, "/status"); r.end.AppStatus != 7 || r.body() != "exit 7" {
		t.Errorf("appStatus %d, body %q", r.end.AppStatus, r.body())
	}
	r := c.get(2, "/panic")
	if !strings.HasPrefix(r.stdout.String(), "Status: 500 Internal Server Error\r\n") {
		t.Errorf("stdout %q", r.stdout.String())
	}
	if !strings.Contains(r.stderr.String(), "app panicked: boom") {
		t.Errorf("stderr %q", r.stderr.String())
	}
}

func TestIncompleteResponseCut(t *testing.T) {
	c := dialTest(t, startServer(t, newServer(newTestApp())))
	c.write(encodeRequest(1, roleResponder, flagKeepConn, getParams("/cut"), nil, false))
	c.waitClosed(5 * time.Second)
	r := c.resp(1)
	if r.ends != 0 {
		t.Errorf("FCGI_END_REQUEST sent for a response cut short")
	}
	if !strings.HasSuffix(r.stdout.String(), "partial") {
		t.Errorf("what was written before the failure: %q", r.stdout.String())
	}
}

func TestLargeResponse(t *testing.T) {
	c := dialTest(t, startServer(t, newServer(newTestApp())))
	r := c.get(1, "/big")
	if want := strings.Repeat("0123456789abcdef", 20000); r.body() != want {
		t.Errorf("body %d bytes, want %d", len(r.body()), len(want))
	}
}

func TestAuthorizer(t *testing.T) {
	c := dialTest(t, startServer(t, newServer(newTestApp())))
	p := getParams("/auth")
	delete(p, "PATH_INFO")
	delete(p, "SCRIPT_NAME")
	p["HTTP_X_TOKEN"] = "yes"
	c.write(encodeRequest(1, roleAuthorizer, flagKeepConn, p, nil, false))
	r := c.wait(1, 5*time.Second)
	if got := r.stdout.String(); !strings.HasPrefix(got, "Status: 200 OK\r\n") || !strings.Contains(got, "Variable-User: alice\r\n") {
		t.Errorf("granted: %q", got)
	}
	p["HTTP_X_TOKEN"] = "no"
	c.write(encodeRequest(2, roleAuthorizer, flagKeepConn, p, nil, false))
	r = c.wait(2, 5*time.Second)
	if got := r.stdout.String(); !strings.HasPrefix(got, "Status: 403 Forbidden\r\n") || r.body() != "no" {
		t.Errorf("denied: %q", got)
	}
}

func TestBodyWithoutContentLength(t *testing.T) {
	c := dialTest(t, startServer(t, newServer(newTestApp())))
	p := postParams("/echo", 0)
	delete(p, "CONTENT_LENGTH")
	c.write(encodeRequest(1, roleResponder, flagKeepConn, p, []byte("streamed"), false))
	r := c.wait(1, 5*time.Second)
	if r.body() != "streamed" || !strings.Contains(r.stdout.String(), "X-Length: -1\r\n") {
		t.Errorf("streamed body: %q", r.stdout.String())
	}
	c.write(encodeRequest(2, roleResponder, flagKeepConn, p, nil, false))
	r = c.wait(2, 5*time.Second)
	if r.body() != "" || !strings.Contains(r.stdout.String(), "X-Length: 0\r\n") {
		t.Errorf("no body: %q", r.stdout.String())
	}
}

func TestSpoolLimit(t *testing.T) {
	app := newTestApp()
	s := newServer(app)
	s.BodyBuffer = 4096
	s.MaxSpoolBytes = 16 << 10
	s.SpoolDir = t.TempDir()
	c := dialTest(t, startServer(t, s))
	size := 100 << 10
	c.write(encodeRequest(1, roleResponder, flagKeepConn, postParams("/slowecho", size), bytes.Repeat([]byte("z"), size), false))
	<-app.entered
	// Another request goes through while the first one's body overflows.
	if r := c.get(2, "/hello"); r.body() != "Hello" {
		t.Errorf("%q", r.stdout.String())
	}
	close(app.release)
	r := c.wait(1, 10*time.Second)
	if !strings.Contains(r.stdout.String(), "X-Error: "+ErrBodyTooLarge.Error()) {
		t.Errorf("over the spool limit: %.200q", r.stdout.String())
	}
	if ents, _ := os.ReadDir(s.SpoolDir); len(ents) != 0 {
		t.Errorf("spool files left: %v", ents)
	}
}
