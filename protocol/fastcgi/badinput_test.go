package fastcgi

import (
	"bytes"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// connCount is how many connections s holds.
func connCount(s *Server) int {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// waitConns waits until s holds n connections: the server let go of every
// connection it closed, with the goroutines behind them. The server tells
// its Observer (a countObserver, as newServer sets) after each change.
func waitConns(t *testing.T, s *Server, n int) {
	t.Helper()
	o, ok := s.Observer.(*countObserver)
	if !ok {
		t.Fatalf("waitConns needs a *countObserver as the server's Observer, not %T", s.Observer)
	}
	deadline := time.After(5 * time.Second)
	for {
		wake := o.wake()
		if connCount(s) == n {
			return
		}
		select {
		case <-wake:
		case <-deadline:
			buf := make([]byte, 1<<20)
			t.Logf("%s", buf[:runtime.Stack(buf, true)])
			t.Fatalf("server holds %d connections, want %d", connCount(s), n)
		}
	}
}

func TestBadInput(t *testing.T) {
	bigParams := map[string]string{"X": strings.Repeat("v", 2000)}
	for _, tc := range []struct {
		name  string
		input func() []byte
		// closed: the server closes the connection; else the request with
		// id 1 gets answered with the status in wantStdout.
		closed     bool
		wantStdout string
		wantEnd    fcgiwire.ProtocolStatus
		closeWrite bool
	}{
		{name: "version 2", closed: true, input: func() []byte {
			b := encodeRequest(1, roleResponder, flagKeepConn, getParams("/hello"), nil, false)
			b[0] = 2
			return b
		}},
		{name: "version 0 after a good record", closed: true, input: func() []byte {
			return append(appendBeginRequest(nil, 1, roleResponder, flagKeepConn), unhex("00 04 00 01 00 00 00 00")...)
		}},
		{name: "short BEGIN_REQUEST body", closed: true, input: func() []byte {
			return appendRecord(nil, typeBeginRequest, 1, []byte{0, 1, 1})
		}},
		{name: "BEGIN_REQUEST for an active id", closed: true, input: func() []byte {
			b := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
			return appendBeginRequest(b, 1, roleResponder, flagKeepConn)
		}},
		{name: "record cut short by EOF", closed: true, closeWrite: true, input: func() []byte {
			return unhex("01 04 00 01 01 00 00 00 41 42")
		}},
		{name: "params over max_params_bytes", wantStdout: "Status: 431 Request Header Fields Too Large\r\n",
			input: func() []byte {
				p := getParams("/hello")
				for k, v := range bigParams {
					p[k] = v
				}
				return encodeRequest(1, roleResponder, flagKeepConn, p, nil, false)
			}},
		{name: "malformed pairs", wantStdout: "Status: 400 Bad Request\r\n", input: func() []byte {
			b := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
			b = appendRecord(b, typeParams, 1, unhex("0b 02 53 45 52"))
			b = appendRecord(b, typeParams, 1, nil)
			return appendRecord(b, typeStdin, 1, nil)
		}},
		{name: "STDIN longer than CONTENT_LENGTH",
			wantStdout: "X-Error: " + ErrBodyTooLong.Error() + "\r\n", input: func() []byte {
				return encodeRequest(1, roleResponder, flagKeepConn, postParams("/echo", 4), []byte("12345678"), false)
			}},
		{name: "records for unknown ids", wantStdout: "Status: 200 OK\r\n", input: func() []byte {
			b := appendRecord(nil, typeParams, 77, appendPair(nil, "A", "B"))
			b = appendRecord(b, typeStdin, 77, []byte("x"))
			b = appendRecord(b, typeData, 77, []byte("x"))
			b = appendRecord(b, typeStdout, 77, []byte("x"))
			b = appendRecord(b, typeAbortRequest, 77, nil)
			b = appendRecord(b, 200, 77, []byte("x"))
			return append(b, encodeRequest(1, roleResponder, flagKeepConn, getParams("/hello"), nil, false)...)
		}},
		{name: "unknown role", wantEnd: fcgiwire.UnknownRole, input: func() []byte {
			return encodeRequest(1, 9, flagKeepConn, getParams("/hello"), nil, false)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(newTestApp())
			s.MaxParamsBytes = 1024
			addr := startServer(t, s)
			other := dialTest(t, addr)
			c := dialTest(t, addr)
			c.write(tc.input())
			if tc.closeWrite {
				c.conn.(*net.TCPConn).CloseWrite()
			}
			if tc.closed {
				c.waitClosed(5 * time.Second)
				if r := c.resp(1); r.ends != 0 {
					t.Errorf("answered %+v before closing", r.end)
				}
			} else {
				r := c.wait(1, 5*time.Second)
				if !strings.Contains(r.stdout.String(), tc.wantStdout) || r.end.ProtocolStatus != tc.wantEnd {
					t.Errorf("answer %q %+v, want %q %v", r.stdout.String(), r.end, tc.wantStdout, tc.wantEnd)
				}
				if c.isClosed() {
					t.Error("connection closed")
				}
			}
			// Other connections carry on.
			if r := other.get(1, "/hello"); r.body() != "Hello" {
				t.Errorf("other connection: %q", r.stdout.String())
			}
			if !tc.closed {
				c.reset(1)
				if r := c.get(1, "/hello"); r.body() != "Hello" {
					t.Errorf("same connection after the bad request: %q", r.stdout.String())
				}
			}
		})
	}
}

func TestBodyTooLongDeliversContentLength(t *testing.T) {
	c := dialTest(t, startServer(t, newServer(newTestApp())))
	c.write(encodeRequest(1, roleResponder, flagKeepConn, postParams("/echo", 4), []byte("12345678"), false))
	if r := c.wait(1, 5*time.Second); r.body() != "1234" {
		t.Errorf("the app read %q, want the first CONTENT_LENGTH bytes", r.body())
	}
}

func TestReadTimeout(t *testing.T) {
	s := newServer(newTestApp())
	s.ReadTimeout = 100 * time.Millisecond
	addr := startServer(t, s)
	other := dialTest(t, addr)
	other.get(1, "/hello")
	idleSince := time.Now()

	// Parameters never terminated.
	c := dialTest(t, addr)
	b := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
	c.write(appendRecord(b, typeParams, 1, appendPair(nil, "REQUEST_METHOD", "GET")))
	start := time.Now()
	c.waitClosed(5 * time.Second)
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("closed after %v, before read_timeout", d)
	}
	// A connection that never sends anything.
	silent := dialTest(t, addr)
	silent.waitClosed(5 * time.Second)
	// A record cut in the middle, on a new connection and on one that has
	// served a request.
	half := dialTest(t, addr)
	half.write(unhex("01 01 00 01 00 08 00 00 00 01"))
	half.waitClosed(5 * time.Second)
	half2 := dialTest(t, addr)
	half2.get(1, "/hello")
	half2.write(unhex("01 09 00 00 00 08 00 00 00 01"))
	half2.waitClosed(5 * time.Second)

	// Idle keep-alive connections between requests have no timeout. A
	// silent connection dialed after other went idle has been closed by
	// read_timeout: other has been idle for longer than it.
	proof := dialTest(t, addr)
	proof.waitClosed(5 * time.Second)
	if idle := time.Since(idleSince); idle <= s.ReadTimeout {
		t.Fatalf("other was idle %v, not over read_timeout %v", idle, s.ReadTimeout)
	}
	if r := other.get(2, "/hello"); r.body() != "Hello" {
		t.Errorf("idle keep-alive connection: %q", r.stdout.String())
	}
	waitConns(t, s, 1)
}

func TestBeginFlood(t *testing.T) {
	s := newServer(newTestApp())
	s.MaxReqs = 8
	// Long enough that the refusals below are all answered before the
	// eight admitted heads time out, however busy the machine is.
	s.ReadTimeout = 2 * time.Second
	core, logs := observer.New(zapcore.DebugLevel)
	s.Log = zap.New(core)
	addr := startServer(t, s)
	other := dialTest(t, addr)
	c := dialTest(t, addr)
	var b []byte
	for id := uint16(1); id <= 200; id++ {
		b = appendBeginRequest(b, id, roleResponder, flagKeepConn)
	}
	c.write(b)
	// Requests over max_reqs are refused at once; the rest time out.
	for id := uint16(9); id <= 200; id++ {
		if r := c.wait(id, 5*time.Second); r.end.ProtocolStatus != fcgiwire.Overloaded {
			t.Fatalf("request %d: %+v", id, r.end)
		}
	}
	if r := other.get(1, "/hello"); r.body() != "Hello" {
		t.Errorf("other connection: %q", r.stdout.String())
	}
	c.waitClosed(10 * time.Second)
	waitConns(t, s, 1)
	// 192 refusals from one peer are one warning, not 192.
	if n := logs.FilterMessageSnippet("over max_reqs").Len(); n != 1 {
		t.Errorf("%d warnings for one flood of refused requests, want 1", n)
	}
}

// A web server that sends requests and never reads the answers loses its
// connection instead of growing the server's buffers.
func TestPeerReadsNothing(t *testing.T) {
	s := newServer(newTestApp())
	s.WriteTimeout = 300 * time.Millisecond
	s.Log = zaptest.NewLogger(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(smallBufListener{inner})
	defer s.Close()
	conn, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitConns(t, s, 1)
	conn.(*net.TCPConn).SetReadBuffer(4096)
	q := appendRecord(nil, typeGetValues, 0, appendPair(nil, "FCGI_MAX_CONNS", ""))
	flood := bytes.Repeat(q, 4096)
	conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for i := 0; i < 2000; i++ {
			if _, err := conn.Write(flood); err != nil {
				return // the server closed it
			}
		}
	}()
	waitConns(t, s, 0)
	conn.Close()
	<-wrote
}

// smallBufListener makes the server's socket buffers small, so that a peer
// that reads nothing blocks the server's writes soon.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// FuzzServe feeds arbitrary bytes to a server connection: whatever they are,
// the server answers or closes, and lets go of the connection.
func FuzzServe(f *testing.F) {
	for _, b := range wireSeeds() {
		f.Add(b)
	}
	f.Add(encodeRequest(1, roleResponder, flagKeepConn, getParams("/hello"), nil, false))
	f.Add(encodeRequest(1, roleResponder, 0, postParams("/echo", 3), []byte("abc"), false))
	f.Add(encodeRequest(2, roleAuthorizer, 0, getParams("/auth"), nil, false))
	f.Add(append(appendBeginRequest(nil, 1, roleResponder, 0), appendRecord(nil, typeAbortRequest, 1, nil)...))
	// The web server's faults answered 400, and a header cut after a
	// complete request.
	bad := postParams("/echo", 3)
	bad["CONTENT_LENGTH"] = "1e3"
	f.Add(encodeRequest(1, roleResponder, flagKeepConn, bad, []byte("abc"), false))
	noMethod := getParams("/hello")
	delete(noMethod, "REQUEST_METHOD")
	f.Add(encodeRequest(1, roleResponder, 0, noMethod, nil, false))
	f.Add(append(encodeRequest(1, roleResponder, flagKeepConn, getParams("/hello"), nil, false), 1, 1, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := newServer(newTestApp())
		s.ReadTimeout = 50 * time.Millisecond
		s.Log = zap.NewNop()
		s.init()
		srv, cli := net.Pipe()
		c := s.newConn(srv)
		done := make(chan struct{})
		go func() {
			c.serve()
			close(done)
		}()
		go func() {
			// Whatever comes back is read and dropped.
			var buf [4096]byte
			for {
				if _, err := cli.Read(buf[:]); err != nil {
					return
				}
			}
		}()
		cli.SetWriteDeadline(time.Now().Add(time.Second))
		cli.Write(b)
		cli.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("connection not released")
		}
	})
}
