package fcgiupstream

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/event"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
	"github.com/gatewayd/gatewayd/internal/gwtest"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// scriptRoot makes a document root with app.php, sub/index.php, a plain
// file, a directory without index and links in and out of the root.
func scriptRoot(t testing.TB) string {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	for name, s := range map[string]string{
		"secret.php":         "<?php echo 'secret';",
		"root/app.php":       "<?php",
		"root/sub/index.php": "<?php",
		"root/style.css":     "p{}",
		"root/empty/.keep":   "",
		"root/deep/a/b.php":  "<?php",
	} {
		peertest.WriteFile(t, base, name, s)
	}
	for link, to := range map[string]string{
		"root/out.php":  "../secret.php",
		"root/abs.php":  filepath.Join(base, "secret.php"),
		"root/in.php":   "app.php",
		"root/updir":    base,
		"root/sub/link": "../deep",
	} {
		if err := os.Symlink(to, filepath.Join(base, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// transports are the transports tests run through.
var transports = []string{TransportNative, TransportGofast}

func newUpstream(t testing.TB, cfg Config) *Upstream {
	t.Helper()
	if cfg.Root == "" {
		cfg.Root = scriptRoot(t)
	}
	log, _ := logs()
	u, err := New(withGofast(cfg), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func TestResolve(t *testing.T) {
	u := newUpstream(t, Config{Upstream: "unix:/nonexistent"})
	tests := []struct {
		pathInfo string
		want     target
	}{
		{"/app.php", target{script: "app.php"}},
		{"/app.php/extra/path", target{script: "app.php", pathInfo: "/extra/path"}},
		{"/app.php/", target{script: "app.php", pathInfo: "/"}},
		{"/app.php/x.php/y", target{script: "app.php", pathInfo: "/x.php/y"}},
		{"//app.php//x", target{script: "app.php", pathInfo: "//x"}},
		{"/./app.php", target{script: "app.php"}},
		{"/deep/a/b.php/c", target{script: "deep/a/b.php", pathInfo: "/c"}},
		{"/sub/", target{script: "sub/index.php"}},
		{"/", target{script: "index.php", status: 0}},
		{"/in.php/p", target{script: "in.php", pathInfo: "/p"}},
		{"/sub/link/a/b.php", target{script: "sub/link/a/b.php"}},
		{"/sub", target{status: 301, dir: "sub"}},
		{"", target{status: 301}},
		{"/deep/a", target{status: 301, dir: "deep/a"}},
		{"/empty/", target{status: 403, file: true}},
		{"/style.css", target{status: 403, file: true}},
		{"/style.css/x", target{status: 403, file: true}},
		{"/missing.php", target{status: 404}},
		{"/missing/app.php", target{status: 404}},
		{"/out.php", target{status: 404}},
		{"/abs.php", target{status: 404}},
		{"/updir/secret.php", target{status: 404}},
		{"/../secret.php", target{status: 400}},
		{"/sub/../../secret.php", target{status: 400}},
		{"/app.php/..", target{status: 400}},
		{"/app.php\x00.css", target{status: 400}},
		{"app.php", target{status: 400}},
	}
	for _, tt := range tests {
		got := u.resolve(tt.pathInfo)
		if tt.pathInfo == "/" {
			// No index.php at the top: a directory without an index.
			tt.want = target{status: 403, file: true}
		}
		if got != tt.want {
			t.Errorf("resolve(%q) = %+v, want %+v", tt.pathInfo, got, tt.want)
		}
	}
}

func TestParams(t *testing.T) {
	u := newUpstream(t, Config{Upstream: "unix:/nonexistent"})
	env := environ.Env{
		"SCRIPT_NAME": "/php", "PATH_INFO": "/app.php/x y", "QUERY_STRING": "a=1",
		"HTTP_PROXY": "http://evil", "HTTP_X_A": "b", "PATH_TRANSLATED": "/old", "CUSTOM": "kept",
	}
	p := u.params(env, u.resolve(env["PATH_INFO"]))
	want := map[string]string{
		"SCRIPT_NAME":     "/php/app.php",
		"SCRIPT_FILENAME": filepath.Join(u.dir, "app.php"),
		"DOCUMENT_ROOT":   u.dir,
		"PATH_INFO":       "/x y",
		"PATH_TRANSLATED": u.dir + "/x y",
		"REQUEST_URI":     "/php/app.php/x%20y?a=1",
		"QUERY_STRING":    "a=1",
		"HTTP_X_A":        "b",
		"CUSTOM":          "kept",
	}
	gwtest.CheckEnv(t, p, want)
	if _, ok := p["HTTP_PROXY"]; ok {
		t.Error("HTTP_PROXY passed upstream")
	}
	if _, ok := env["SCRIPT_FILENAME"]; ok {
		t.Error("the original environment was changed")
	}
	// No rest of the path: PATH_INFO empty and PATH_TRANSLATED unset.
	env = environ.Env{"SCRIPT_NAME": "", "PATH_INFO": "/sub/", "PATH_TRANSLATED": "/old"}
	p = u.params(env, u.resolve(env["PATH_INFO"]))
	if p["SCRIPT_NAME"] != "/sub/index.php" || p["PATH_INFO"] != "" {
		t.Errorf("index: SCRIPT_NAME %q PATH_INFO %q", p["SCRIPT_NAME"], p["PATH_INFO"])
	}
	if _, ok := p["PATH_TRANSLATED"]; ok {
		t.Error("PATH_TRANSLATED set without PATH_INFO")
	}
}

func TestNewErrors(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		cfg  Config
		want error
	}{
		{Config{Root: root}, ErrNoUpstream},
		{Config{Upstream: "unix:/x"}, ErrNoRoot},
		{Config{Upstream: "unix:", Root: root}, ErrBadUpstream},
		{Config{Upstream: "localhost", Root: root}, ErrBadUpstream},
		{Config{Upstream: ":9000", Root: root}, ErrBadUpstream},
		{Config{Upstream: "127.0.0.1:9000", Root: root, Index: "../x.php"}, ErrBadIndex},
		{Config{Upstream: "127.0.0.1:9000", Root: filepath.Join(root, "missing")}, os.ErrNotExist},
	}
	for _, tt := range tests {
		u, err := New(tt.cfg, nil)
		if !errors.Is(err, tt.want) {
			t.Errorf("New(%+v) = %v, want %v", tt.cfg, err, tt.want)
		}
		if u != nil {
			u.Close()
		}
	}
	u, err := New(Config{Upstream: "127.0.0.1:9000", Root: root}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
}

func TestAnswersOfOurOwn(t *testing.T) {
	root := scriptRoot(t)
	files := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env, _ := environ.FromContext(r.Context())
		fmt.Fprintf(w, "files %s %s", env["SCRIPT_NAME"], env["PATH_INFO"])
	})
	plain := newUpstream(t, Config{Upstream: "unix:/nonexistent", Root: root})
	withFiles := newUpstream(t, Config{Upstream: "unix:/nonexistent", Root: root, Files: files})
	tests := []struct {
		app      http.Handler
		pathInfo string
		query    string
		status   int
		loc      string
		body     string
	}{
		{plain, "/sub", "", 301, "/php/sub/", ""},
		{plain, "/sub", "a=1", 301, "/php/sub/?a=1", ""},
		{plain, "", "", 301, "/php/", ""},
		{plain, "/style.css", "", 403, "", ""},
		{plain, "/empty/", "", 403, "", ""},
		{plain, "/missing.php", "", 404, "", ""},
		{plain, "/out.php", "", 404, "", ""},
		{plain, "/../secret.php", "", 400, "", ""},
		{withFiles, "/style.css", "", 200, "", "files /php /style.css"},
		{withFiles, "/empty/", "", 200, "", "files /php /empty/"},
		{withFiles, "/missing.php", "", 404, "", ""},
	}
	for _, tt := range tests {
		r := serve(t, tt.app, reqEnv("GET", tt.pathInfo, "QUERY_STRING", tt.query), nil)
		if r.status != tt.status || r.header.Get("Location") != tt.loc || (tt.body != "" && r.body != tt.body) {
			t.Errorf("%q: %d %q %q, want %d %q %q", tt.pathInfo, r.status, r.header.Get("Location"), r.body,
				tt.status, tt.loc, tt.body)
		}
	}
}

func TestGoUpstream(t *testing.T) {
	sock, _ := goUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Set("Keep-Alive", "timeout=5") // hop-by-hop: dropped
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprintf(w, "%s %d %q %s|%s", fcgi.ProcessEnv(r)["SCRIPT_FILENAME"], r.ContentLength,
			r.Header.Get("Proxy"), r.Header.Get("X-A"), body)
	}))
	u := newUpstream(t, Config{Upstream: "unix:" + sock})
	script := filepath.Join(u.dir, "app.php")
	r := serve(t, u, reqEnv("POST", "/app.php/p", "HTTP_X_A", "b", "HTTP_PROXY", "evil", "CONTENT_LENGTH", "5"),
		strings.NewReader("hello"))
	if r.status != 418 || r.body != script+` 5 "" b|hello` {
		t.Errorf("got %d %q", r.status, r.body)
	}
	if got := r.header.Values("Set-Cookie"); len(got) != 2 || r.header.Get("Keep-Alive") != "" {
		t.Errorf("header %v", r.header)
	}
	// A body without a length is spooled and gets one.
	r = serve(t, u, reqEnv("POST", "/app.php"), strings.NewReader("chunked body"))
	if r.status != 418 || r.body != script+` 12 "" |chunked body` {
		t.Errorf("spooled: %d %q", r.status, r.body)
	}
}

func TestParamsSent(t *testing.T) {
	got := make(chan map[string]string, 1)
	sock := rawUpstream(t, func(c net.Conn) {
		id, params, _, err := readFCGIParams(c)
		if err != nil {
			return
		}
		got <- params
		_, _ = c.Write(append(record(typeStdout, id, []byte("Status: 204 No Content\r\n\r\n")), endRequest(id, 0, 0)...))
	})
	u := newUpstream(t, Config{Upstream: "unix:" + sock})
	env := reqEnv("GET", "/app.php/a%2Fb/c", "QUERY_STRING", "q=1", "HTTP_X_FORWARDED_FOR", "10.0.0.1",
		"HTTPS", "on", "REMOTE_USER", "bob", "HTTP_PROXY", "evil")
	r := serve(t, u, env, nil)
	if r.status != 204 {
		t.Fatalf("status %d", r.status)
	}
	p := <-got
	for k, v := range env {
		switch k {
		case "SCRIPT_NAME", "PATH_INFO", "HTTP_PROXY":
			continue
		}
		if p[k] != v {
			t.Errorf("%s = %q, want %q as it arrived", k, p[k], v)
		}
	}
	for k, v := range map[string]string{
		"SCRIPT_NAME": "/php/app.php", "PATH_INFO": "/a%2Fb/c", "SCRIPT_FILENAME": u.dir + "/app.php",
		"PATH_TRANSLATED": u.dir + "/a%2Fb/c", "DOCUMENT_ROOT": u.dir, "REDIRECT_STATUS": "200",
	} {
		if p[k] != v {
			t.Errorf("%s = %q, want %q", k, p[k], v)
		}
	}
	if _, ok := p["HTTP_PROXY"]; ok {
		t.Error("HTTP_PROXY sent upstream")
	}
	if _, ok := p["CONTENT_LENGTH"]; ok {
		t.Error("CONTENT_LENGTH sent without a body")
	}
}

func TestSpool(t *testing.T) {
	sock, _ := goUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d %d", n, r.ContentLength)
	}))
	spoolDir := t.TempDir()
	u := newUpstream(t, Config{Upstream: "unix:" + sock, MaxSpoolBytes: 200 << 10, SpoolDir: spoolDir})
	for _, n := range []int{0, 1, memSpool, memSpool + 1, 200 << 10} {
		r := serve(t, u, reqEnv("POST", "/app.php"), io.LimitReader(neverEnding('x'), int64(n)))
		want := fmt.Sprintf("%d %d", n, n)
		if r.status != 200 || r.body != want {
			t.Errorf("%d bytes: %d %q, want %q", n, r.status, r.body, want)
		}
	}
	r := serve(t, u, reqEnv("POST", "/app.php"), io.LimitReader(neverEnding('x'), 200<<10+1))
	if r.status != 413 {
		t.Errorf("over the limit: %d", r.status)
	}
	refuse := newUpstream(t, Config{Upstream: "unix:" + sock, MaxSpoolBytes: -1})
	if r := serve(t, refuse, reqEnv("POST", "/app.php"), strings.NewReader("x")); r.status != 411 {
		t.Errorf("max_spool_bytes -1: %d, want 411", r.status)
	}
	if r := serve(t, refuse, reqEnv("POST", "/app.php", "CONTENT_LENGTH", "1"), strings.NewReader("x")); r.status != 200 {
		t.Errorf("max_spool_bytes -1 with a length: %d", r.status)
	}
	// An empty body without a length is no body (a GET through nginx).
	if r := serve(t, refuse, reqEnv("GET", "/app.php"), strings.NewReader("")); r.status != 200 || r.body != "0 0" {
		t.Errorf("max_spool_bytes -1, empty body: %d %q", r.status, r.body)
	}
	if ents, _ := os.ReadDir(spoolDir); len(ents) != 0 {
		t.Errorf("spool files left: %v", ents)
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

func TestPoolBound(t *testing.T) {
	const maxConns = 3
	// The first maxConns requests wait for each other in the upstream, so
	// that the pool must open all its connections at once; the wait is
	// bounded so that a pool that never does fails below instead of hanging.
	var arrived atomic.Int64
	full := make(chan struct{})
	sock, cl := goUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == maxConns {
			close(full)
		}
		select {
		case <-full:
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, "ok")
	}))
	watch := &poolWatch{}
	u := newUpstream(t, Config{Upstream: "unix:" + sock, MaxConns: maxConns, Observer: watch})
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for range 20 {
		wg.Go(func() {
			for range 5 {
				r := serve(t, u, reqEnv("GET", "/app.php"), nil)
				if r.status != 200 || r.body != "ok" {
					errs <- fmt.Sprintf("%d %q", r.status, r.body)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if watch.maxOpen > maxConns || cl.max.Load() > maxConns {
		t.Errorf("open connections: ours %d, upstream's %d; max_conns %d", watch.maxOpen, cl.max.Load(), maxConns)
	}
	if watch.maxOpen != maxConns {
		t.Errorf("20 concurrent clients used only %d connections", watch.maxOpen)
	}
	if got := cl.total.Load(); got != maxConns {
		t.Errorf("%d connections made for 100 requests; want %d kept alive", got, maxConns)
	}
	if watch.count(OutcomeOK) != 100 {
		t.Errorf("outcomes %v", watch.outcomes)
	}
	if inUse, open, idle := u.pool.stats(); inUse != 0 || open != idle {
		t.Errorf("after: in use %d, open %d, idle %d", inUse, open, idle)
	}
}

func TestNoKeepAlive(t *testing.T) {
	sock, cl := goUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	u := newUpstream(t, Config{Upstream: "unix:" + sock, IdleTimeout: -1})
	for range 5 {
		if r := serve(t, u, reqEnv("GET", "/app.php"), nil); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
	}
	if inUse, open, idle := u.pool.stats(); inUse != 0 || open != 0 || idle != 0 {
		t.Errorf("after: in use %d, open %d, idle %d", inUse, open, idle)
	}
	if cl.total.Load() != 5 {
		t.Errorf("%d connections for 5 requests", cl.total.Load())
	}
}

func TestIdleTimeout(t *testing.T) {
	sock, cl := goUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	u := newUpstream(t, Config{Upstream: "unix:" + sock, IdleTimeout: 30 * time.Millisecond})
	serve(t, u, reqEnv("GET", "/app.php"), nil)
	// The upstream learns of the close only when net/http/fcgi reads EOF,
	// which it announces to no one.
	gwtest.Eventually(5*time.Second, func() bool { return cl.open.Load() == 0 })
	if _, open, _ := u.pool.stats(); open != 0 || cl.open.Load() != 0 {
		t.Errorf("idle connection not closed: ours %d, upstream's %d", open, cl.open.Load())
	}
}

func TestConnectFails(t *testing.T) {
	watch := &poolWatch{}
	u := newUpstream(t, Config{Upstream: "unix:" + filepath.Join(t.TempDir(), "none.sock"), Observer: watch})
	r := serve(t, u, reqEnv("GET", "/app.php"), nil)
	if r.status != 502 {
		t.Errorf("status %d, want 502", r.status)
	}
	// A TCP port nobody listens on.
	u2 := newUpstream(t, Config{Upstream: peertest.FreeAddr(t), Observer: watch})
	if r := serve(t, u2, reqEnv("GET", "/app.php"), nil); r.status != 502 {
		t.Errorf("tcp: status %d, want 502", r.status)
	}
	if watch.count(OutcomeConnect) != 2 {
		t.Errorf("outcomes %v", watch.outcomes)
	}
	if inUse, open, _ := u.pool.stats(); inUse != 0 || open != 0 {
		t.Errorf("after: in use %d, open %d", inUse, open)
	}
}

func TestUpstreamSilent(t *testing.T) {
	sock := rawUpstream(t, func(c net.Conn) {
		_, _, _ = readFCGIRequest(c)
		_, _ = io.Copy(io.Discard, c) // never answers
	})
	watch := &poolWatch{}
	u := newUpstream(t, Config{Upstream: "unix:" + sock, UpstreamTimeout: 200 * time.Millisecond, Observer: watch})
	start := time.Now()
	r := serve(t, u, reqEnv("GET", "/app.php"), nil)
	if r.status != 504 {
		t.Errorf("status %d, want 504", r.status)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	if watch.count(OutcomeTimeout) != 1 {
		t.Errorf("outcomes %v", watch.outcomes)
	}
	if _, open, _ := u.pool.stats(); open != 0 {
		t.Errorf("timed-out connection kept: %d open", open)
	}
}

func TestWaitForConnection(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{})
	var once sync.Once
	sock, _ := goUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(started) })
		// Keep the connection busy but not silent.
		for {
			io.WriteString(w, ".")
			w.(http.Flusher).Flush()
			select {
			case <-release:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}))
	u := newUpstream(t, Config{Upstream: "unix:" + sock, MaxConns: 1, QueueTimeout: 300 * time.Millisecond})
	first := make(chan response)
	go func() { first <- serve(t, u, reqEnv("GET", "/app.php"), nil) }()
	select {
	case <-started: // the first request holds the only connection
	case <-time.After(10 * time.Second):
		t.Fatal("the first request never reached the upstream")
	}
	start := time.Now()
	r := serve(t, u, reqEnv("GET", "/app.php"), nil)
	// Saturation is 503 with Retry-After once queue_timeout passed, not
	// 504: the upstream did nothing wrong.
	if r.status != 503 || r.header.Get("Retry-After") == "" || time.Since(start) < 250*time.Millisecond {
		t.Errorf("second request: %d %v after %v, want 503 with Retry-After after 300ms", r.status, r.header, time.Since(start))
	}
	close(release)
	if r := <-first; r.status != 200 || !strings.HasPrefix(r.body, "...") {
		t.Errorf("first request: %d %q", r.status, r.body)
	}
}

func TestProtocolErrors(t *testing.T) {
	hello := "Content-Type: text/plain\r\n\r\nhello"
	tests := []struct {
		name   string
		answer func(id uint16) []byte
		status int
		native int // the native transport's status, when it differs
	}{
		{"closes at once", func(uint16) []byte { return nil }, 502, 0},
		{"garbage", func(uint16) []byte { return []byte("HTTP/1.1 200 OK\r\n\r\n") }, 502, 0},
		{"no END_REQUEST", func(id uint16) []byte { return record(typeStdout, id, []byte(hello)) }, 502, 0},
		{"overloaded", func(id uint16) []byte { return endRequest(id, 0, 2) }, 502, 0},
		{"no head", func(id uint16) []byte { return endRequest(id, 0, 0) }, 502, 0},
		{"bad header line", func(id uint16) []byte {
			return append(record(typeStdout, id, []byte("no colon here\r\n\r\nx")), endRequest(id, 0, 0)...)
		}, 502, 0},
		{"no Content-Type", func(id uint16) []byte {
			return append(record(typeStdout, id, []byte("X-A: b\r\n\r\n"+strings.Repeat("x", 5000))), endRequest(id, 0, 0)...)
		}, 502, 0},
		{"header line over 1 KiB", func(id uint16) []byte {
			head := "Content-Type: text/plain\r\nX-Long: " + strings.Repeat("a", 2000) + "\r\n\r\n"
			return append(record(typeStdout, id, []byte(head+strings.Repeat("x", 30000))), endRequest(id, 0, 0)...)
		}, 502, 200},
		{"head over 64 KiB", func(id uint16) []byte {
			head := "Content-Type: text/plain\r\n" + strings.Repeat("X-A: "+strings.Repeat("a", 500)+"\r\n", 140)
			return append(fcgiwire.AppendStream(nil, typeStdout, id, []byte(head+"\r\nbody")), endRequest(id, 0, 0)...)
		}, 502, 0},
		{"head without end", func(id uint16) []byte {
			// 48 MiB of header lines once grew the daemon by 54 MiB.
			return fcgiwire.AppendStream(nil, typeStdout, id, []byte(strings.Repeat("X-A: b\r\n", 1<<17)))
		}, 502, 0},
		{"another request id", func(id uint16) []byte {
			return append(record(typeStdout, id+1, []byte(hello)), endRequest(id+1, 0, 0)...)
		}, 200, 502},
		{"management record", func(id uint16) []byte {
			return append(fcgiwire.AppendUnknownType(nil, 9), append(record(typeStdout, id, []byte(hello)), endRequest(id, 0, 0)...)...)
		}, 200, 502},
		{"good", func(id uint16) []byte {
			return append(append(record(typeStdout, id, []byte(hello)), record(typeStdout, id, nil)...), endRequest(id, 0, 0)...)
		}, 200, 0},
	}
	for _, tr := range transports {
		for _, tt := range tests {
			want := tt.status
			if tr == TransportNative && tt.native != 0 {
				want = tt.native
			}
			if tr == TransportGofast && (tt.name == "another request id" || tt.name == "management record") {
				// gofast takes any record as this request's: only the
				// native transport tells them apart.
				continue
			}
			t.Run(tr+"/"+tt.name, func(t *testing.T) {
				sock := rawUpstream(t, func(c net.Conn) {
					id, _, err := readFCGIRequest(c)
					if err != nil {
						return
					}
					_, _ = c.Write(tt.answer(id))
				})
				watch := &poolWatch{}
				u := newUpstream(t, Config{Upstream: "unix:" + sock, UpstreamTimeout: 10 * time.Second, Observer: watch,
					Transport: tr})
				start := time.Now()
				r := serve(t, u, reqEnv("GET", "/app.php"), nil)
				if r.status != want {
					t.Errorf("status %d, want %d (body %.200q)", r.status, want, r.body)
				}
				if d := time.Since(start); d > 3*time.Second {
					t.Errorf("took %v", d)
				}
				if want == 502 && watch.count(OutcomeProtocol) != 1 {
					t.Errorf("outcomes %v", watch.outcomes)
				}
			})
		}
	}
}

func TestCutOffResponse(t *testing.T) {
	// The head and part of the body arrive, then the upstream hangs up: the
	// client must be able to tell the response is incomplete.
	sock := rawUpstream(t, func(c net.Conn) {
		id, _, err := readFCGIRequest(c)
		if err != nil {
			return
		}
		_, _ = c.Write(record(typeStdout, id, []byte("Content-Type: text/plain\r\n\r\n"+strings.Repeat("x", 20000))))
	})
	watch := &poolWatch{}
	u := newUpstream(t, Config{Upstream: "unix:" + sock, Observer: watch})
	r := serve(t, u, reqEnv("GET", "/app.php"), nil)
	if !r.res.Incomplete() || !r.res.HeadSent {
		t.Errorf("result %+v, want an incomplete response", r.res)
	}
	if watch.count(OutcomeProtocol) != 1 {
		t.Errorf("outcomes %v", watch.outcomes)
	}
}

func TestStaleConnectionRetried(t *testing.T) {
	// The upstream serves one request per connection and then drops the
	// connection after reading the next request, without answering: what a
	// php-fpm worker recycled (pm.max_requests) between the check and the
	// request, or one that crashed, looks like.
	var mu sync.Mutex
	conns := 0
	sock := rawUpstream(t, func(c net.Conn) {
		mu.Lock()
		conns++
		mu.Unlock()
		id, _, err := readFCGIRequest(c)
		if err != nil {
			return
		}
		_, _ = c.Write(append(record(typeStdout, id, []byte("Content-Type: text/plain\r\n\r\nok")), endRequest(id, 0, 0)...))
		_, _, _ = readFCGIRequest(c)
	})
	watch := &poolWatch{}
	u := newUpstream(t, Config{Upstream: "unix:" + sock, Observer: watch})
	for i := range 5 {
		if r := serve(t, u, reqEnv("GET", "/app.php"), nil); r.status != 200 || r.body != "ok" {
			t.Fatalf("request %d: %d %q", i, r.status, r.body)
		}
	}
	// A POST is not sent again: the upstream may have run it.
	if r := serve(t, u, reqEnv("POST", "/app.php"), strings.NewReader("body")); r.status != 502 {
		t.Errorf("POST on a stale connection: %d, want 502", r.status)
	}
	if r := serve(t, u, reqEnv("GET", "/app.php"), nil); r.status != 200 {
		t.Errorf("GET after: %d", r.status)
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 6 {
		t.Errorf("%d connections for 7 requests, want 6", conns)
	}
	if watch.maxOpen > 2 {
		t.Errorf("max open %d", watch.maxOpen)
	}
}

func TestClientGone(t *testing.T) {
	// The client stops reading: the relay fails, the request is canceled
	// and nothing is left behind.
	sock, _ := goUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 100 {
			if _, err := w.Write(make([]byte, 64<<10)); err != nil {
				return
			}
		}
	}))
	u := newUpstream(t, Config{Upstream: "unix:" + sock})
	env := reqEnv("GET", "/app.php")
	environ.SetupTestingDefaults(env)
	rec := &failingWriter{header: http.Header{}, after: 3}
	r := httptest.NewRequest("GET", "/php/app.php", nil)
	r = r.WithContext(environ.NewContext(r.Context(), env))
	func() {
		defer func() {
			if p := recover(); p != nil && p != http.ErrAbortHandler {
				t.Errorf("panic %v", p)
			}
		}()
		u.ServeHTTP(rec, r)
	}()
	if inUse, _, _ := u.pool.stats(); inUse != 0 {
		t.Errorf("%d connections still in use", inUse)
	}
	// The pool still works.
	if r := serve(t, u, reqEnv("GET", "/app.php"), nil); r.status != 200 || len(r.body) != 100*64<<10 {
		t.Errorf("after: %d, %d bytes", r.status, len(r.body))
	}
}

// failingWriter fails every write after the first few.
type failingWriter struct {
	header http.Header
	after  int
}

func (f *failingWriter) Header() http.Header { return f.header }
func (f *failingWriter) WriteHeader(int)     {}
func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after == 0 {
		return 0, errors.New("client gone")
	}
	f.after--
	return len(p), nil
}

func TestStderrLogged(t *testing.T) {
	sock := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			id, _, err := readFCGIRequest(br)
			if err != nil {
				return
			}
			var out []byte
			out = append(out, record(typeStderr, id, []byte("first line\nsecond "))...)
			out = append(out, record(typeStdout, id, []byte("Content-Type: text/plain\r\n\r\nok"))...)
			out = append(out, record(typeStderr, id, []byte("line\r\nunterminated"))...)
			out = append(out, endRequest(id, 3, 0)...)
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	})
	log, obs := logs()
	u, err := New(Config{Upstream: "unix:" + sock, Root: scriptRoot(t)}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	r := serve(t, u, reqEnv("GET", "/app.php"), nil)
	if r.status != 200 || r.body != "ok" {
		t.Fatalf("%d %q", r.status, r.body)
	}
	if r.app != 3 {
		t.Errorf("app status %d, want 3 from FCGI_END_REQUEST", r.app)
	}
	var lines []string
	for _, e := range obs.FilterMessage("upstream stderr").All() {
		if e.ContextMap()["request_id"] != r.id {
			t.Errorf("entry %v without request id %s", e.ContextMap(), r.id)
		}
		lines = append(lines, e.ContextMap()["line"].(string))
	}
	if got := strings.Join(lines, "|"); got != "first line|second line|unterminated" {
		t.Errorf("stderr lines %q", got)
	}
}

func benchGo(b *testing.B, idle time.Duration) {
	sock, _ := goUpstream(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	u := newUpstream(b, Config{Upstream: "unix:" + sock, MaxConns: 2, IdleTimeout: idle})
	b.ReportAllocs()
	for b.Loop() {
		if r := serve(b, u, reqEnv("GET", "/app.php"), nil); r.status != 200 {
			b.Fatal(r.status)
		}
	}
}

// BenchmarkGoUpstream measures the cost of the app and gofast themselves:
// the upstream is Go's net/http/fcgi answering "hello".
func BenchmarkGoUpstream(b *testing.B) { benchGo(b, 0) }

// BenchmarkGoUpstreamNoKeepAlive is the same with a new connection a request.
func BenchmarkGoUpstreamNoKeepAlive(b *testing.B) { benchGo(b, -1) }

// TestNoGoroutineLeft runs the ways a request can end and checks that every
// goroutine gofast and the app started has ended with it.
func TestNoGoroutineLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	// A subtest, so that its upstreams are stopped when it ends.
	t.Run("scenarios", func(t *testing.T) {
		silent := rawUpstream(t, func(c net.Conn) {
			_, _, _ = readFCGIRequest(c)
			_, _ = io.Copy(io.Discard, c)
		})
		longHead := rawUpstream(t, func(c net.Conn) {
			id, _, err := readFCGIRequest(c)
			if err == nil {
				head := "Content-Type: text/plain\r\nX-Long: " + strings.Repeat("a", 2000) + "\r\n\r\n"
				_, _ = c.Write(append(record(typeStdout, id, []byte(head+strings.Repeat("x", 30000))), endRequest(id, 0, 0)...))
			}
		})
		big, _ := goUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for range 50 {
				if _, err := w.Write(make([]byte, 64<<10)); err != nil {
					return
				}
			}
		}))
		for _, sock := range []string{silent, longHead, big} {
			u, err := New(Config{Upstream: "unix:" + sock, Root: scriptRoot(t), UpstreamTimeout: 200 * time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			serve(t, u, reqEnv("GET", "/app.php"), nil)
			env := reqEnv("GET", "/app.php")
			environ.SetupTestingDefaults(env)
			r := httptest.NewRequest("GET", "/php/app.php", nil)
			func() {
				defer func() { _ = recover() }()
				u.ServeHTTP(&failingWriter{header: http.Header{}, after: 1}, r.WithContext(environ.NewContext(r.Context(), env)))
			}()
			u.Close()
		}
	})
	// A goroutine's end is announced to no one: count them until they are
	// back to what they were, for a while.
	var n int
	if !gwtest.Eventually(5*time.Second, func() bool { n = runtime.NumGoroutine(); return n <= before }) {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestPoolBoundUnderChurn(t *testing.T) {
	// Each connection serves one to three requests, then takes the next one
	// and hangs up: stale connections all the time, as with php-fpm's
	// pm.max_requests set low. Every GET must still succeed, on at most
	// MaxConns connections at any moment.
	var n atomic.Int64
	sock := rawUpstream(t, func(c net.Conn) {
		serveN := 1 + int(n.Add(1)%3)
		for range serveN {
			id, _, err := readFCGIRequest(c)
			if err != nil {
				return
			}
			if _, err := c.Write(append(record(typeStdout, id, []byte("Content-Type: text/plain\r\n\r\nok")), endRequest(id, 0, 0)...)); err != nil {
				return
			}
		}
		_, _, _ = readFCGIRequest(c)
	})
	watch := &poolWatch{}
	const maxConns = 3
	u := newUpstream(t, Config{Upstream: "unix:" + sock, MaxConns: maxConns, Observer: watch})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				if r := serve(t, u, reqEnv("GET", "/app.php"), nil); r.status != 200 {
					t.Errorf("%d %q", r.status, r.body)
					return
				}
			}
		})
	}
	wg.Wait()
	if watch.maxOpen > maxConns {
		t.Errorf("max open %d > max_conns %d", watch.maxOpen, maxConns)
	}
	if watch.count(OutcomeOK) != 200 {
		t.Errorf("outcomes %v", watch.outcomes)
	}
}

func TestShortBodyNotPassedOn(t *testing.T) {
	// The client announces 10 bytes and sends 3: the upstream must not see
	// a cleanly ended request (it would run the script on 3 bytes).
	seen := make(chan string, 1)
	sock := rawUpstream(t, func(c net.Conn) {
		id, stdin, err := readFCGIRequest(c)
		if err != nil {
			seen <- "broken"
			return
		}
		seen <- "complete " + string(stdin)
		_, _ = c.Write(append(record(typeStdout, id, []byte("Content-Type: text/plain\r\n\r\nran")), endRequest(id, 0, 0)...))
	})
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			u := newUpstream(t, Config{Upstream: "unix:" + sock, Transport: tr})
			env := reqEnv("POST", "/app.php")
			environ.SetupTestingDefaults(env)
			env["CONTENT_LENGTH"] = "10"
			r := httptest.NewRequest("POST", "/php/app.php", strings.NewReader("abc"))
			r.ContentLength = 10
			rec := httptest.NewRecorder()
			u.ServeHTTP(rec, r.WithContext(environ.NewContext(r.Context(), env)))
			if tr == TransportNative {
				// A small body is read before a connection is taken: the
				// upstream never hears of the request.
				select {
				case got := <-seen:
					t.Errorf("upstream saw %q", got)
				default:
				}
			} else if got := <-seen; got != "broken" {
				t.Errorf("upstream saw %q", got)
			}
			if rec.Code == 200 {
				t.Errorf("status %d", rec.Code)
			}
		})
	}
}

func FuzzResolve(f *testing.F) {
	for _, s := range []string{"/app.php/x", "/sub/", "/../secret.php", "//app.php", "/sub/link/a/b.php", "/out.php", "app.php", "/a\x00"} {
		f.Add(s)
	}
	u := newUpstream(f, Config{Upstream: "unix:/nonexistent"})
	f.Fuzz(func(t *testing.T, pathInfo string) {
		tg := u.resolve(pathInfo)
		if tg.script == "" {
			return
		}
		if tg.status != 0 || !strings.HasSuffix(tg.script, ".php") || strings.HasPrefix(tg.script, "/") ||
			strings.Contains("/"+tg.script+"/", "/../") || !strings.HasSuffix(pathInfo, tg.pathInfo) {
			t.Errorf("resolve(%q) = %+v", pathInfo, tg)
		}
	})
}

// retryWatch counts the requests sent again on a new connection.
type retryWatch struct {
	poolWatch
	retried atomic.Int64
}

func (w *retryWatch) QueueWait(time.Duration)  {}
func (w *retryWatch) Rejected(event.Rejection) {}
func (w *retryWatch) Retried()                 { w.retried.Add(1) }
func (w *retryWatch) Health(string, int, bool) {}

var _ Observer = (*retryWatch)(nil)

func TestIdleClosedConnection(t *testing.T) {
	// The upstream closes each connection after its answer, while it sits
	// idle in the pool: what php-fpm's pm.max_requests or a restart does.
	// A GET takes the idle connection without a peek and is sent again on
	// a new one when the first turns out closed (nginx's way: no system
	// call per request to guard against the rare case); a POST, which may
	// not be sent twice, still checks the idle connection first.
	var conns atomic.Int64
	sock := rawUpstream(t, func(c net.Conn) {
		conns.Add(1)
		id, _, err := readFCGIRequest(c)
		if err != nil {
			return
		}
		_, _ = c.Write(append(record(typeStdout, id, []byte("Content-Type: text/plain\r\n\r\nok")), endRequest(id, 0, 0)...))
	})
	watch := &retryWatch{}
	u := newUpstream(t, Config{Upstream: "unix:" + sock, Observer: watch})
	waitIdleClosed := func() {
		t.Helper()
		// Until the upstream's close of the kept connection reached us: a
		// FIN in the socket, which only a look at the connection tells.
		if !gwtest.Eventually(10*time.Second, func() bool {
			u.pool.mu.Lock()
			var c *upstreamConn
			if len(u.pool.idle) > 0 {
				c = u.pool.idle[0]
			}
			u.pool.mu.Unlock()
			return c == nil || !c.alive()
		}) {
			t.Fatal("the upstream's close never arrived")
		}
	}
	for i := range 3 {
		waitIdleClosed()
		if r := serve(t, u, reqEnv("GET", "/app.php"), nil); r.status != 200 || r.body != "ok" {
			t.Fatalf("GET %d: %d %q", i, r.status, r.body)
		}
	}
	if got := watch.retried.Load(); got != 2 {
		t.Errorf("%d GETs sent again, want 2 (the 2nd and 3rd found their kept connection closed)", got)
	}
	waitIdleClosed()
	if r := serve(t, u, reqEnv("POST", "/app.php"), strings.NewReader("body")); r.status != 200 || r.body != "ok" {
		t.Errorf("POST after an idle close: %d %q", r.status, r.body)
	}
	if got := watch.retried.Load(); got != 2 {
		t.Errorf("the POST was sent again (%d retries): its idle connection was not checked", got)
	}
	if got := conns.Load(); got != 4 {
		t.Errorf("%d connections for 4 requests, want 4", got)
	}
}

func TestLookupCache(t *testing.T) {
	// A route keeps its script lookups (lookup_cache_size, lookup_cache_ttl):
	// a script removed after a request is still named to the upstream
	// within the TTL, and with the cache off it is 404 at once.
	for _, tc := range []struct {
		size int
		want int
	}{{0, 200}, {-1, 404}} {
		root := scriptRoot(t)
		u := newUpstream(t, Config{Upstream: "unix:/nonexistent", Root: root, LookupCacheSize: tc.size, LookupCacheTTL: time.Hour})
		if got := u.resolve("/app.php"); got.script != "app.php" {
			t.Fatalf("size %d: %+v", tc.size, got)
		}
		if err := os.Remove(filepath.Join(root, "app.php")); err != nil {
			t.Fatal(err)
		}
		got := u.resolve("/app.php")
		if status := map[bool]int{true: 200, false: got.status}[got.script == "app.php"]; status != tc.want {
			t.Errorf("size %d, after the script went: %+v, want %d", tc.size, got, tc.want)
		}
	}
}
