package httpfront

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
	"github.com/gatewayd/gatewayd/protocol/internal/writedeadline"
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

// A keep-alive connection moves its write deadline once per quarter of
// WriteTimeout, not per response: net/http's clearing of it after each
// response is not passed on while the pacer owns it, and the end of a
// response needs no second move. An app that sets a deadline of its own
// (one in the past, after it flushed its body) still has the end of its
// response delivered, and the connection's next request is not cut by the
// deadline it left.
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
	c := dialRaw(t, l.Addr().String())
	br := bufio.NewReader(c)
	get := func(path string) {
		t.Helper()
		if resp, body := get(t, c, br, path); resp.StatusCode != 200 || body != "ok "+path {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
	for range 20 {
		get("/a")
	}
	if n := l.n.Load(); n != 1 {
		t.Errorf("%d write deadlines for 20 requests within a minute, want 1", n)
	}
	get("/cut")
	get("/after-cut")
}

// A connection idle for longer than WriteTimeout, whose paced deadline
// passed meanwhile, still gets its next answer, and so does a request
// net/http refuses itself (a malformed one, answered 400 before any
// handler runs).
func TestWriteDeadlinePassedWhileIdle(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	const timeout = 100 * time.Millisecond
	s := &Server{Handler: &handler.Handler{App: app}, WriteTimeout: timeout}
	l := gwtest.Listen(t)
	gwtest.Serve(t, s, l, ErrServerClosed)
	for _, second := range []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"} {
		c := dialRaw(t, l.Addr().String())
		br := bufio.NewReader(c)
		ask := func(req string, want int) {
			t.Helper()
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%q: %v", req, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("%q: status %d, want %d", req, resp.StatusCode, want)
			}
		}
		ask("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200)
		// Idle past the write deadline the first answer armed: the idle
		// time is the behaviour under test.
		time.Sleep(3 * timeout)
		want := 200
		if strings.Contains(second, "Bad") {
			want = 400
		}
		ask(second, want)
		c.Close()
	}
}

// An app that reads an "Expect: 100-continue" body long after the request
// arrived (queued for an upstream connection, say) still has net/http's
// "100 Continue" reach the client: net/http writes it at the first read,
// and the connection's write deadline, moved when the head was read, has
// passed by then unless the read moves it.
func TestContinueAfterWriteTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The app's delay before it reads is the behaviour under test.
		time.Sleep(3 * timeout)
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading the body: %v", err)
		}
		_, _ = w.Write(b)
	})
	s := &Server{Handler: &handler.Handler{App: app}, WriteTimeout: timeout}
	l := gwtest.Listen(t)
	gwtest.Serve(t, s, l, ErrServerClosed)
	c := dialRaw(t, l.Addr().String())
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("before the body: %q, %v; want 100 Continue", line, err)
	}
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "hello"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "hello" {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
}

// dialRaw connects to addr for a test that speaks HTTP/1.1 by hand: every
// read and write has 10 s, and the connection closes when the test ends.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// recordingDeadlines records the write deadlines set on a connection whose
// reads always have one byte.
type recordingDeadlines struct {
	net.Conn // nil: only the methods below are called
	set      []time.Time
}

func (c *recordingDeadlines) Read(p []byte) (int, error) { p[0] = 'G'; return 1, nil }

func (c *recordingDeadlines) SetWriteDeadline(t time.Time) error {
	c.set = append(c.set, t)
	return nil
}

// An app's write deadline (http.ResponseController) reaches the connection
// even when it is zero, "no deadline", which net/http's own clearing after
// a response is not; and a read (net/http's background read of the next
// request) does not move it, until the pacer is forced to at the end of the
// response.
func TestAppWriteDeadlineHolds(t *testing.T) {
	rec := &recordingDeadlines{}
	wc := &watchConn{Conn: rec}
	wc.wd.pace.Timeout = time.Minute
	wc.paceWrite(false) // the pacer owns the deadline
	if len(rec.set) != 1 {
		t.Fatalf("the pacer set %d deadlines, want 1", len(rec.set))
	}
	_ = wc.SetWriteDeadline(time.Time{}) // net/http's clearing
	if len(rec.set) != 1 {
		t.Fatalf("net/http's clearing reached the connection: %v", rec.set)
	}
	if err := wc.setAppWriteDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if len(rec.set) != 2 || !rec.set[1].IsZero() {
		t.Fatalf("the app's zero deadline did not reach the connection: %v", rec.set)
	}
	wc.wd.pace = writedeadline.Pacer{Timeout: time.Minute} // as if a quarter of it had passed
	if _, err := wc.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if len(rec.set) != 2 {
		t.Fatalf("a read moved the app's deadline: %v", rec.set)
	}
	wc.paceWrite(true) // the response ended
	if _, err := wc.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if len(rec.set) != 3 || rec.set[2].IsZero() {
		t.Fatalf("the pacer did not take the deadline back at the response's end: %v", rec.set)
	}
}
