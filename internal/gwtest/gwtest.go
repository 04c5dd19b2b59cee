// Package gwtest holds what the tests of several packages share when they
// drive gatewayd's own pieces: serving a front end on a listener until the
// test ends, knowing when a listener was closed, running one request
// through the core, comparing an environment with what a test wants, and
// waiting, bounded, for a condition nothing announces.
// Real peers (nginx, Apache, php-fpm, …) are internal/peertest's.
package gwtest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
)

// ShutdownTimeout is how long Serve's cleanup lets a server drain.
const ShutdownTimeout = 10 * time.Second

// Server is what every front end's server is (fastcgi.Server,
// scgi.Server, the HTTP front end's Server).
type Server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// Serve runs s on l until the test ends. Then it shuts s down, and the test
// fails unless Shutdown returns nil within ShutdownTimeout and Serve returns
// an error that is closed (the package's ErrServerClosed).
func Serve(t testing.TB, s Server, l net.Listener, closed error) {
	t.Helper()
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, closed) {
			t.Errorf("Serve returned %v, want %v", err, closed)
		}
	})
}

// Listen opens a listener on a free loopback TCP port; the test closes it
// when it ends, if nothing else has.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening on loopback: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// ClosingListener is a listener that tells when it is closed: a server's
// Shutdown closes its listeners before it waits for requests in flight.
type ClosingListener struct {
	net.Listener
	closed chan struct{}
	once   sync.Once
}

// NewClosingListener wraps l.
func NewClosingListener(l net.Listener) *ClosingListener {
	return &ClosingListener{Listener: l, closed: make(chan struct{})}
}

// Close closes the listener and wakes Closed.
func (l *ClosingListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.closed) })
	return err
}

// Closed is closed once Close was called.
func (l *ClosingListener) Closed() <-chan struct{} { return l.closed }

// Run runs one request through h, as a front end of the given protocol
// would, and returns what the core wrote and its result. An empty body is
// no body at all.
func Run(t testing.TB, h *handler.Handler, protocol string, env environ.Env, body string) (string, handler.Result) {
	t.Helper()
	var in io.Reader
	if body != "" {
		in = strings.NewReader(body)
	}
	var out strings.Builder
	res := h.Serve(context.Background(), &handler.Request{Env: env, Body: in, Protocol: protocol}, &out)
	return out.String(), res
}

// Unset, as a value in CheckEnv's want, means the variable must be absent.
const Unset = "<unset>"

// CheckEnv reports each variable of want that got does not have with that
// value (or, for Unset, has at all); on failure it logs the whole
// environment.
func CheckEnv(t testing.TB, got environ.Env, want map[string]string) {
	t.Helper()
	failed := false
	for k, w := range want {
		g, ok := got[k]
		switch {
		case w == Unset && ok:
			t.Errorf("%s = %q, want it unset", k, g)
			failed = true
		case w != Unset && (!ok || g != w):
			t.Errorf("%s = %q (set %v), want %q", k, g, ok, w)
			failed = true
		}
	}
	if failed {
		names := make([]string, 0, len(got))
		for k := range got {
			names = append(names, k)
		}
		sort.Strings(names)
		var b strings.Builder
		for _, k := range names {
			b.WriteString(k + "=" + got[k] + "\n")
		}
		t.Logf("environment:\n%s", b.String())
	}
}

// FetchTimeout bounds each of Fetch's and TryFetch's requests.
const FetchTimeout = 20 * time.Second

// TryFetch sends one HTTP request (body "" for none, with header's fields;
// a field whose value is "" is left out) and returns the answer, or the error that cut it short: for tests of
// answers that must not arrive whole.
func TryFetch(method, url, body string, header map[string]string) (int, http.Header, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), FetchTimeout)
	defer cancel()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rb)
	if err != nil {
		return 0, nil, "", err
	}
	for k, v := range header {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), err
}

// Fetch is TryFetch for answers that must arrive whole: any error fails
// the test.
func Fetch(t testing.TB, method, url, body string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	status, h, b, err := TryFetch(method, url, body, header)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return status, h, b
}

// ClosedConns returns a ConnState hook for a server (the HTTP and SCGI
// front ends have one) and a channel that receives once for each
// connection that reached http.StateClosed. It holds n unreceived; past
// that the hook, and the server's goroutine with it, waits for the test.
func ClosedConns(n int) (func(net.Conn, http.ConnState), <-chan struct{}) {
	ch := make(chan struct{}, n)
	return func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			ch <- struct{}{}
		}
	}, ch
}

// Eventually waits until cond holds, for at most timeout, and reports
// whether it did. It polls, so it is only for conditions that nothing
// announces: a process gone from /proc, goroutines that ended, a file
// another process writes, a counter the code under test keeps to itself.
// Where the code under test can say when it is ready (a channel, a hook,
// an observer call), wait for that instead; where time is the subject,
// use testing/synctest.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
	return true
}

// BlockedWriteTimeout bounds each wait of CutBlockedWrite and
// WriteTimeoutClosesSilentReader.
const BlockedWriteTimeout = 10 * time.Second

// CutBlockedWrite checks what a front end promises an app (the CGI runner,
// when it stops a script): a write blocked on a client that reads nothing
// ends as soon as the app sets a write deadline in the past through
// http.ResponseController, long before the server's write timeout would.
// start serves the app it is given and returns the TCP address; request is
// one request, in the front end's protocol, that reaches the app.
func CutBlockedWrite(t testing.TB, start func(app http.Handler) string, request string) {
	t.Helper()
	cut := make(chan *http.ResponseController, 1)
	ended := make(chan error, 1)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cut <- http.NewResponseController(w)
		chunk := make([]byte, 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				ended <- err
				return
			}
		}
	})
	c, err := net.Dial("tcp", start(app))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	var rc *http.ResponseController
	select {
	case rc = <-cut:
	case <-time.After(BlockedWriteTimeout):
		t.Fatal("the request never reached the app")
	}
	// The socket buffers fill and a write parks in the netpoller; nothing
	// announces that, but the goroutine's state in a stack dump does.
	if !Eventually(BlockedWriteTimeout, blockedSocketWrite) {
		t.Fatal("no write blocked on the socket, though the client reads nothing")
	}
	if err := rc.SetWriteDeadline(time.Now()); err != nil {
		t.Fatalf("SetWriteDeadline: %v", err)
	}
	select {
	case <-ended:
	case <-time.After(BlockedWriteTimeout):
		t.Fatal("the app's write still blocks after it set a deadline in the past")
	}
}

// blockedSocketWrite reports whether a goroutine of the process waits in a
// socket write for the peer to read.
func blockedSocketWrite() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		// RawWrite: the front ends' connections write through
		// internal/rawio.
		if strings.Contains(g, "[IO wait") && (strings.Contains(g, "poll.(*FD).Write(") || strings.Contains(g, "poll.(*FD).RawWrite(")) {
			return true
		}
	}
	return false
}

// WriteTimeoutClosesSilentReader checks a front end's write_timeout: a
// client that asks for a large response and never reads it used to pin
// the connection, its goroutine and its buffers for as long as it stayed
// connected; now the server closes the connection and the app's writes
// end in an error. start serves the app it is given, with a short write
// timeout and the ConnState hook it is given, and returns the TCP address;
// request is one request, in the front end's protocol, that reaches the
// app. It returns the client's connection, open until the test ends.
func WriteTimeoutClosesSilentReader(t testing.TB, start func(app http.Handler, connState func(net.Conn, http.ConnState)) string, request string) net.Conn {
	t.Helper()
	const size = 64 << 20
	werr := make(chan error, 1)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		chunk := make([]byte, 64<<10)
		for n := 0; n < size; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	})
	connState, closed := ClosedConns(1)
	c, err := net.Dial("tcp", start(app, connState))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A small receive buffer, so that the server's writes block soon.
	if err := c.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(BlockedWriteTimeout):
		t.Fatal("the server still holds the connection of a client that reads nothing")
	}
	// What the kernel already queued may still reach the client; the
	// server's part, the app's writes, ended in an error.
	select {
	case err := <-werr:
		if err == nil {
			t.Error("the app wrote the whole response to a client that reads nothing")
		}
	case <-time.After(BlockedWriteTimeout):
		t.Fatal("the app is still writing")
	}
	return c
}
