package fastcgi

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

// testClient is a minimal FastCGI web-server side that multiplexes requests
// on one connection: gofast reads every record of a connection into the
// request it is waiting for, so it cannot.
type testClient struct {
	t    testing.TB
	conn net.Conn

	wmu sync.Mutex

	mu     sync.Mutex
	resps  map[uint16]*testResp
	mgmt   chan rawRecord
	closed chan struct{}
	err    error
}

type rawRecord struct {
	h       header
	content []byte
}

type testResp struct {
	stdout, stderr bytes.Buffer
	ends           int
	end            endRequest
	done           chan struct{}
	first          chan struct{} // closed at the first STDOUT record
}

func dialTest(t testing.TB, addr string) *testClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return newTestClient(t, conn)
}

func newTestClient(t testing.TB, conn net.Conn) *testClient {
	c := &testClient{t: t, conn: conn, resps: map[uint16]*testResp{}, mgmt: make(chan rawRecord, 16),
		closed: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(func() {
		conn.Close()
		<-c.closed
	})
	return c
}

func (c *testClient) readLoop() {
	defer close(c.closed)
	for {
		h, content, err := readRecord(c.conn, nil)
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		content = bytes.Clone(content)
		if h.ID == 0 {
			c.mgmt <- rawRecord{h, content}
			continue
		}
		r := c.resp(h.ID)
		c.mu.Lock()
		switch h.Type {
		case typeStdout:
			if r.stdout.Len() == 0 && len(content) > 0 {
				close(r.first)
			}
			r.stdout.Write(content)
		case typeStderr:
			r.stderr.Write(content)
		case typeEndRequest:
			r.ends++
			r.end, _ = parseEndRequest(content)
			if r.ends == 1 {
				close(r.done)
			}
		}
		c.mu.Unlock()
	}
}

func (c *testClient) resp(id uint16) *testResp {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.resps[id]
	if r == nil {
		r = &testResp{done: make(chan struct{}), first: make(chan struct{})}
		c.resps[id] = r
	}
	return r
}

// reset forgets the response to id, so that the id can be used again.
func (c *testClient) reset(id uint16) {
	c.mu.Lock()
	delete(c.resps, id)
	c.mu.Unlock()
}

func (c *testClient) write(b []byte) {
	c.t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Errorf("client write: %v", err)
	}
}

// pairs encodes params in sorted order.
func pairs(params map[string]string) []byte {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	var b []byte
	for _, k := range names {
		b = appendPair(b, k, params[k])
	}
	return b
}

// encodeRequest is a whole request: BEGIN_REQUEST, PARAMS, STDIN (with their
// empty records; the STDIN end left out when openBody is set).
func encodeRequest(id uint16, role fcgiwire.Role, flags uint8, params map[string]string, body []byte, openBody bool) []byte {
	b := appendBeginRequest(nil, id, role, flags)
	b = appendStream(b, typeParams, id, pairs(params))
	b = appendRecord(b, typeParams, id, nil)
	b = appendStream(b, typeStdin, id, body)
	if !openBody {
		b = appendRecord(b, typeStdin, id, nil)
	}
	return b
}

func getParams(path string) map[string]string {
	return map[string]string{
		"REQUEST_METHOD":  "GET",
		"SCRIPT_NAME":     "",
		"PATH_INFO":       path,
		"REQUEST_URI":     path,
		"QUERY_STRING":    "",
		"SERVER_NAME":     "example.com",
		"SERVER_PORT":     "80",
		"SERVER_PROTOCOL": "HTTP/1.1",
		"REMOTE_ADDR":     "127.0.0.1",
		"HTTP_HOST":       "example.com",
	}
}

func postParams(path string, n int) map[string]string {
	p := getParams(path)
	p["REQUEST_METHOD"] = "POST"
	p["CONTENT_LENGTH"] = itoa(n)
	p["CONTENT_TYPE"] = "application/octet-stream"
	return p
}

func itoa(n int) string { return fmtInt(int64(n)) }

func fmtInt(n int64) string {
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// get sends a GET for path on id with keep-conn and waits for the answer.
func (c *testClient) get(id uint16, path string) *testResp {
	c.t.Helper()
	c.write(encodeRequest(id, roleResponder, flagKeepConn, getParams(path), nil, false))
	return c.wait(id, 10*time.Second)
}

func (c *testClient) wait(id uint16, d time.Duration) *testResp {
	c.t.Helper()
	r := c.resp(id)
	select {
	case <-r.done:
	case <-c.closed:
		select {
		case <-r.done:
		default:
			c.t.Fatalf("request %d: connection closed before FCGI_END_REQUEST: %v", id, c.err)
		}
	case <-time.After(d):
		c.t.Fatalf("request %d: no FCGI_END_REQUEST after %v", id, d)
	}
	return r
}

func (c *testClient) mgmtRecord(d time.Duration) rawRecord {
	c.t.Helper()
	select {
	case r := <-c.mgmt:
		return r
	case <-c.closed:
		c.t.Fatalf("connection closed while waiting for a management record: %v", c.err)
	case <-time.After(d):
		c.t.Fatalf("no management record after %v", d)
	}
	return rawRecord{}
}

// waitClosed waits until the server closes the connection.
func (c *testClient) waitClosed(d time.Duration) {
	c.t.Helper()
	select {
	case <-c.closed:
	case <-time.After(d):
		c.t.Fatalf("connection still open after %v", d)
	}
}

func (c *testClient) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (r *testResp) body() string {
	_, b, _ := bytes.Cut(r.stdout.Bytes(), []byte("\r\n\r\n"))
	return string(b)
}

// startServer serves s on a loopback listener until the test ends.
func startServer(t testing.TB, s *Server) string {
	t.Helper()
	if s.Log == nil {
		s.Log = zaptest.NewLogger(t)
	}
	l := gwtest.Listen(t)
	gwtest.Serve(t, s, l, ErrServerClosed)
	return l.Addr().String()
}

// testApp is the app behind most tests.
type testApp struct {
	release chan struct{} // /wait and /slowecho wait for it
	entered chan string   // told when /wait and /slowecho start
	ctxErr  chan error    // /wait reports how its context ended
}

func newTestApp() *testApp {
	return &testApp{release: make(chan struct{}), entered: make(chan string, 16), ctxErr: make(chan error, 16)}
}

func (a *testApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/hello":
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello")
	case "/echo":
		b, err := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("X-Length", itoa(int(r.ContentLength)))
		if err != nil {
			w.Header().Set("X-Error", err.Error())
		}
		w.Write(b)
	case "/slowecho":
		a.entered <- r.URL.Path
		<-a.release
		b, err := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		if err != nil {
			w.Header().Set("X-Error", err.Error())
		}
		w.Write(b)
	case "/wait":
		a.entered <- r.URL.Path
		select {
		case <-a.release:
		case <-r.Context().Done():
		}
		a.ctxErr <- r.Context().Err()
		io.WriteString(w, "waited")
	case "/status":
		handler.InfoFrom(r.Context()).AppStatus = 7
		io.WriteString(w, "exit 7")
	case "/panic":
		panic("boom")
	case "/cut":
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic("cut after the head")
	case "/big":
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(bytes.Repeat([]byte("0123456789abcdef"), 20000))
	case "/auth":
		if r.Header.Get("Authorization") == "" && r.Header.Get("X-Token") == "yes" {
			w.Header().Set("Variable-USER", "alice")
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "no")
	default:
		http.NotFound(w, r)
	}
}
