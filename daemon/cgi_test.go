package daemon

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// These tests drive CGI routes through the daemon and its real HTTP front
// end, as a client on the network would.

// cgiDaemon starts a daemon with one HTTP listener and the given routes
// (YAML list items, ROOT for the root; tests run as root, so cgi routes get
// allow_root), with scripts (name → body) written to the root first.
// It returns the daemon, the root and the listener's address.
func cgiDaemon(t *testing.T, routes string, scripts map[string]string, log *zap.Logger) (*Daemon, string, string) {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "cgi-bin")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range scripts {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "g.yaml")
	writeConfig(t, path, "listeners:\n  - {protocol: http, address: \"127.0.0.1:0\"}\n"+
		"metrics: {address: \"\"}\nshutdown_timeout: 2s\nroutes:\n"+
		strings.NewReplacer("ROOT", root, "app: cgi,", "app: cgi, allow_root: true,").Replace(routes))
	if log == nil {
		log = zap.NewNop()
	}
	d := newDaemon(t, path, Options{Log: log})
	d.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Shutdown(ctx)
	})
	return d, root, d.Addrs()[0].String()
}

// rawGet sends target as it is (no client-side cleaning of the path) and
// returns the response, body read.
func rawGet(t *testing.T, addr, target string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

const envScript = "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho \"PATH_INFO=$PATH_INFO\"\necho \"PATH_TRANSLATED=$PATH_TRANSLATED\"\n"

// TestCGIPathsStayInRoot: however a climb is spelt in the request, a CGI
// script never runs with PATH_INFO or PATH_TRANSLATED outside its root, and
// no dotfile is run as a script.
func TestCGIPathsStayInRoot(t *testing.T) {
	_, root, addr := cgiDaemon(t, "  - {prefix: /cgi-bin, app: cgi, root: ROOT}\n", map[string]string{
		"env": envScript, ".env": envScript, ".git/config": envScript, ".htaccess": envScript,
	}, nil)
	for _, tt := range []struct {
		target string
		status int
	}{
		{"/cgi-bin/env/a/b", 200},
		{"/cgi-bin/env/../../../../etc/passwd", 400},
		{"/cgi-bin/env/%2e%2e/%2e%2e/etc/passwd", 400},
		{"/cgi-bin/env/%2E%2E/%2E%2E/etc/passwd", 400},
		{"/cgi-bin/env/.%2e/x", 400},
		{"/cgi-bin/env/..%2f..%2fetc%2fpasswd", 400},
		{"/cgi-bin/env/%2e%2e%2f%2e%2e%2fetc", 400},
		{"/cgi-bin/env//..//..//etc/passwd", 400},
		{"/cgi-bin/env/a/..", 400},
		{`/cgi-bin/env/..\..\etc\passwd`, 400},
		{"/cgi-bin/env/%5c..%5c..%5cetc", 400},
		{"/cgi-bin/env/..%5c..%5cetc", 400},
		{"/cgi-bin/env/%252e%252e/x", 200}, // decoded once: a name "%2e%2e", inside the root
		{"/cgi-bin/env/./a//b", 200},
		{"/cgi-bin/../cgi-bin/env/x", 400},
		{"/cgi-bin/%2e%2e/etc/passwd", 400},
		{"/cgi-bin/.env", 403},
		{"/cgi-bin/%2eenv", 403},
		{"/cgi-bin/.git/config", 403},
		{"/cgi-bin/%2Egit/config", 403},
		{"/cgi-bin/.htaccess/x", 403},
	} {
		resp, body := rawGet(t, addr, tt.target)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d %q, want %d", tt.target, resp.StatusCode, body, tt.status)
			continue
		}
		if tt.status != 200 {
			if strings.Contains(body, "PATH_TRANSLATED=") {
				t.Errorf("%s: the script ran", tt.target)
			}
			continue
		}
		for line := range strings.SplitSeq(body, "\n") {
			if v, ok := strings.CutPrefix(line, "PATH_TRANSLATED="); ok && v != "" &&
				(!strings.HasPrefix(v, root+"/") || strings.Contains("/"+v+"/", "/../")) {
				t.Errorf("%s: PATH_TRANSLATED %q leaves %s", tt.target, v, root)
			}
		}
	}
}

// TestCGITimeoutFreesSlotOfStalledClient: a client that stops reading an
// endless response does not hold the route's only slot past the timeout:
// the response is cut and the next request runs (rather than 503).
func TestCGITimeoutFreesSlotOfStalledClient(t *testing.T) {
	_, _, addr := cgiDaemon(t, "  - {prefix: /cgi-bin, app: cgi, root: ROOT, timeout: 500ms, max_concurrency: 1, queue_timeout: 10s}\n",
		map[string]string{
			"yes":   "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nexec yes 'endless output'\n",
			"hello": "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhello\\n'\n",
		}, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.(*net.TCPConn).SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /cgi-bin/yes HTTP/1.1\r\nHost: example.com\r\n\r\n")
	br := bufio.NewReaderSize(c, 512)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, " 200 ") {
		t.Fatalf("first response: %q, %v", line, err)
	}
	// The client reads no more and stays connected.
	resp, body := rawGet(t, addr, "/cgi-bin/hello")
	if resp.StatusCode != 200 || body != "hello\n" {
		t.Errorf("next request: %d %q: the stalled request still holds the slot", resp.StatusCode, body)
	}
}

// TestCGIShutdownAnswersQueued: a request waiting for a CGI slot when the
// daemon shuts down gets 503 with Retry-After, not a closed connection at
// shutdown_timeout.
func TestCGIShutdownAnswersQueued(t *testing.T) {
	logged := newLogSignal()
	debug, _ := observer.New(zap.DebugLevel) // a core that takes every level
	core := zapcore.RegisterHooks(debug, logged.hook)
	d, _, addr := cgiDaemon(t, "  - {prefix: /cgi-bin, app: cgi, root: ROOT, max_concurrency: 1, kill_grace: 200ms}\n",
		map[string]string{
			// Holds the slot until its body comes, which it never does.
			"hold":  "#!/bin/sh\nhead -c 1 >/dev/null\nprintf 'Content-Type: text/plain\\n\\nheld\\n'\n",
			"hello": "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhello\\n'\n",
		}, zap.New(core))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /cgi-bin/hold HTTP/1.1\r\nHost: example.com\r\nContent-Length: 1\r\n\r\n")
	logged.wait(t, "script started", "the first script to start")

	queued := make(chan *http.Response, 1)
	go func() {
		q, err := net.Dial("tcp", addr)
		if err != nil {
			queued <- nil
			return
		}
		defer q.Close()
		_ = q.SetDeadline(time.Now().Add(20 * time.Second))
		fmt.Fprintf(q, "GET /cgi-bin/hello HTTP/1.1\r\nHost: example.com\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(q), nil)
		if err != nil {
			t.Errorf("queued request: %v (want a 503, not a closed connection)", err)
		}
		queued <- resp
	}()
	logged.wait(t, "waiting for a cgi slot", "the second request in the queue")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = d.Shutdown(ctx)
	resp := <-queued
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("queued request at shutdown: %+v, want 503 with Retry-After", resp)
	}
}

// logSignal tells a test when the daemon has logged a message: its hook
// closes the message's channel the first time, so a test waits for a log
// line as the signal it is, without polling.
type logSignal struct {
	mu   sync.Mutex
	seen map[string]chan struct{}
}

func newLogSignal() *logSignal { return &logSignal{seen: map[string]chan struct{}{}} }

// channel returns msg's channel; with done, closed.
func (l *logSignal) channel(msg string, done bool) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, ok := l.seen[msg]
	if !ok {
		ch = make(chan struct{})
		l.seen[msg] = ch
	}
	if done {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	return ch
}

func (l *logSignal) hook(e zapcore.Entry) error {
	l.channel(e.Message, true)
	return nil
}

// wait waits, for at most 10s, until msg was logged; what names it for the
// failure.
func (l *logSignal) wait(t *testing.T, msg, what string) {
	t.Helper()
	select {
	case <-l.channel(msg, false):
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s after 10s", what)
	}
}
