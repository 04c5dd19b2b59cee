package httpfront

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
	"github.com/gatewayd/gatewayd/protocol/internal/overload"
)

// limited starts a server with MaxConns max whose ConnState hook reports
// every connection that became idle.
func limited(t *testing.T, max int, app http.Handler) (addr string, s *Server, idle <-chan net.Conn, refused *atomic.Int32, logs *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	idleCh := make(chan net.Conn, 16)
	refused = new(atomic.Int32)
	s = &Server{
		Handler:  &handler.Handler{App: app},
		MaxConns: max,
		Refused:  func(net.Conn) { refused.Add(1) },
		Log:      zap.New(core),
		ConnState: func(c net.Conn, st http.ConnState) {
			if st == http.StateIdle {
				idleCh <- c
			}
		},
	}
	l := gwtest.Listen(t)
	gwtest.Serve(t, s, l, ErrServerClosed)
	return l.Addr().String(), s, idleCh, refused, logs
}

// get sends a GET for path on c and reads the answer.
func get(t *testing.T, c net.Conn, br *bufio.Reader, path string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET %s: body: %v", path, err)
	}
	return resp, string(b)
}

func hello(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }

// busy starts a server with MaxConns 1 whose one connection is serving a
// request that waits until the test ends.
func busy(t *testing.T) (addr string, refused *atomic.Int32) {
	t.Helper()
	entered, release := make(chan struct{}), make(chan struct{})
	addr, _, _, refused, _ = limited(t, 1, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	t.Cleanup(func() { close(release) })
	held := dialRaw(t, addr)
	_, _ = io.WriteString(held, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	return addr, refused
}

// closedByServer reports whether the server closed c: a read ends with
// the end of the stream (or a reset) instead of the deadline.
func closedByServer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func (s *Server) liveConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live)
}

// TestMaxConnsClosesTheLongestIdle: at max_conns a new connection is
// served, and the connection kept alive longest without a request is
// closed to make room; the other kept-alive one still serves.
func TestMaxConnsClosesTheLongestIdle(t *testing.T) {
	addr, s, idle, refused, _ := limited(t, 2, http.HandlerFunc(hello))
	var conns [2]net.Conn
	var readers [2]*bufio.Reader
	for i := range conns {
		conns[i] = dialRaw(t, addr)
		readers[i] = bufio.NewReader(conns[i])
		if resp, body := get(t, conns[i], readers[i], "/"); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("connection %d: %d %q", i, resp.StatusCode, body)
		}
		<-idle // in this order: the first is the longest idle
	}
	third := dialRaw(t, addr)
	if resp, body := get(t, third, bufio.NewReader(third), "/"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("the connection over max_conns: %d %q, want it served", resp.StatusCode, body)
	}
	if !closedByServer(conns[0]) {
		t.Error("the longest idle connection is still open")
	}
	if resp, body := get(t, conns[1], readers[1], "/"); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("the other kept-alive connection: %d %q", resp.StatusCode, body)
	}
	if n := s.liveConns(); n != 2 {
		t.Errorf("%d connections counted, want 2", n)
	}
	if n := refused.Load(); n != 0 {
		t.Errorf("Refused called %d times; making room refuses nothing", n)
	}
}

// TestMaxConnsClosesASilentConnection: a connection that never sent a
// request is idle too (browsers open them ahead), and makes room.
func TestMaxConnsClosesASilentConnection(t *testing.T) {
	addr, _, _, _, _ := limited(t, 1, http.HandlerFunc(hello))
	silent := dialRaw(t, addr)
	// The server has admitted it once it answers on another connection:
	// accepts are served in order.
	c := dialRaw(t, addr)
	if resp, body := get(t, c, bufio.NewReader(c), "/"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if !closedByServer(silent) {
		t.Error("the silent connection is still open")
	}
}

// TestMaxConnsRefusesWhenNoneIsIdle: with every connection serving a
// request, one more is answered 503 with Retry-After, its request never
// reaches the app, every refusal is counted and the log has one line for
// them all; the connection is closed after the answer, not reset before
// the client read it.
func TestMaxConnsRefusesWhenNoneIsIdle(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	addr, s, _, refused, logs := limited(t, 1, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path == "/hold" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	}))
	held := dialRaw(t, addr)
	heldBr := bufio.NewReader(held)
	done := make(chan string, 1)
	go func() {
		_, _ = io.WriteString(held, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(heldBr, nil)
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	<-entered
	for i := range 5 {
		c := dialRaw(t, addr)
		// A request with a body the server never reads, still being sent
		// after the answer came, as nginx sends an upload: the lingering
		// close drains it, where a plain close would reset the connection
		// under the sender (nginx: a 502 instead of the 503).
		_, _ = io.WriteString(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 131072\r\n\r\n"+strings.Repeat("b", 65536))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("connection %d over max_conns: %v", i, err)
		}
		if _, err := io.WriteString(c, strings.Repeat("b", 65536)); err != nil {
			t.Errorf("connection %d over max_conns: the rest of the body: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !resp.Close || string(b) != "Service Unavailable\n" {
			t.Errorf("connection %d over max_conns: %d %v %q", i, resp.StatusCode, resp.Header, b)
		}
		if !closedByServer(c) {
			t.Errorf("connection %d over max_conns left open", i)
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
	if n := s.liveConns(); n != 1 {
		t.Errorf("%d connections counted, want 1", n)
	}
	close(release)
	if got := <-done; got != "ok" {
		t.Errorf("the held request: %q", got)
	}
}

// TestMaxConnsRefusalsAreBounded: past 64 connections being answered 503
// at once (each drains what its client sends for up to 2 s), more are
// closed without an answer, so a flood of connections costs no more
// goroutines than that.
func TestMaxConnsRefusalsAreBounded(t *testing.T) {
	addr, refused := busy(t)
	start := time.Now()
	for i := range overload.MaxAnswering {
		// Each reads its answer and stays open: its refusal lingers.
		c := dialRaw(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\n")
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 503 {
			t.Fatalf("connection %d: %v %v", i, resp, err)
		}
	}
	c := dialRaw(t, addr)
	n, err := c.Read(make([]byte, 64))
	if time.Since(start) >= 2*time.Second {
		t.Skip("the machine took longer than the linger bound to open the connections; the bound was not under test")
	}
	if n != 0 || err == nil {
		t.Errorf("connection %d past the bound: read %d bytes, %v; want it closed without an answer", overload.MaxAnswering+1, n, err)
	}
	if got := refused.Load(); got != overload.MaxAnswering+1 {
		t.Errorf("Refused called %d times, want %d", got, overload.MaxAnswering+1)
	}
}

// TestMaxConnsNegativeRefused: max_conns cannot be off.
func TestMaxConnsNegativeRefused(t *testing.T) {
	s := &Server{Handler: &handler.Handler{App: http.HandlerFunc(hello)}, MaxConns: -1}
	l := gwtest.Listen(t)
	if err := s.Serve(l); err == nil || !strings.Contains(err.Error(), "MaxConns") {
		t.Errorf("Serve with MaxConns -1: %v", err)
	}
}

// TestMaxConnsAnswersGoClients: Go's http.Client drops a connection whose
// server speaks before the request is sent; the 503 waits for the
// request's first bytes, so such a client reads it. One that sends
// nothing is closed without an answer.
func TestMaxConnsAnswersGoClients(t *testing.T) {
	addr, _ := busy(t)
	silent := dialRaw(t, addr)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	for i := range 20 {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("request %d over max_conns: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Fatalf("request %d over max_conns: %d", i, resp.StatusCode)
		}
	}
	if !closedByServer(silent) {
		t.Error("a connection that sent nothing is still open")
	}
}
