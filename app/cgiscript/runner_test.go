package cgiscript

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

func TestRefuseRoot(t *testing.T) {
	_, err := New(Config{Root: scripts}, nil)
	if os.Geteuid() == 0 {
		if !errors.Is(err, ErrRunAsRoot) {
			t.Fatalf("New as root without AllowRoot: %v, want ErrRunAsRoot", err)
		}
		if !strings.Contains(err.Error(), "allow_root") {
			t.Errorf("the error does not say how to fix it: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("New as uid %d: %v", os.Geteuid(), err)
	}
}

func TestNewConfigErrors(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.cgi")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"nothing", Config{}, "root or script is required"},
		{"missing root", Config{Root: filepath.Join(dir, "nope")}, "no such file"},
		{"root is a file", Config{Root: plain}, "is not a directory"},
		{"relative script", Config{Script: "x.cgi"}, "must be an absolute path"},
		{"script not executable", Config{Script: plain}, "not executable"},
		{"script is a directory", Config{Script: dir}, "is a directory"},
		{"bad pass_env", Config{Root: dir, PassEnv: []string{"A=B"}}, "pass_env"},
		{"bad env", Config{Root: dir, Env: map[string]string{"X": "a\x00b"}}, "env"},
	}
	for _, tt := range tests {
		tt.cfg.AllowRoot = true
		_, err := New(tt.cfg, nil)
		if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want ErrConfig with %q", tt.name, err, tt.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	c := rn.cfg
	if c.Timeout != 60*time.Second || c.KillGrace != 5*time.Second || c.QueueTimeout != 30*time.Second ||
		c.MaxConcurrency != 2*runtime.NumCPU() || c.QueueSize != 1024 ||
		c.MaxHeaderBytes != 65536 || c.MaxSpoolBytes != 64<<20 || c.MaxRedirects != 10 ||
		len(c.PassEnv) != 1 || c.PassEnv[0] != "PATH" {
		t.Errorf("defaults: %+v", c)
	}
}

// TestRefusals: only executable regular files inside Root run.
func TestRefusals(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	write := func(path string, mode os.FileMode) {
		if err := os.WriteFile(path, []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nran\\n'\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "ok.cgi"), 0o755)
	write(filepath.Join(root, "plain.cgi"), 0o644)
	write(filepath.Join(root, ".hidden.cgi"), 0o755)
	write(filepath.Join(root, ".htaccess"), 0o755)
	must(t, os.Mkdir(filepath.Join(root, ".git"), 0o755))
	write(filepath.Join(root, ".git", "config"), 0o755)
	write(filepath.Join(outside, "evil.cgi"), 0o755)
	must(t, os.WriteFile(filepath.Join(root, "junk.cgi"), []byte("\x00\x01junk"), 0o755))
	must(t, os.Mkdir(filepath.Join(root, "dir.cgi"), 0o755))
	must(t, os.Symlink(filepath.Join(outside, "evil.cgi"), filepath.Join(root, "escape.cgi")))
	must(t, os.Symlink(outside, filepath.Join(root, "outdir")))
	must(t, os.Symlink("ok.cgi", filepath.Join(root, "link.cgi")))
	must(t, os.Symlink("/dev/null", filepath.Join(root, "dev.cgi")))

	log, logs := observed(t)
	rn := newRunner(t, Config{Root: root}, log)
	tests := []struct {
		path   string
		status int
	}{
		{"/ok.cgi", 200},
		{"/link.cgi/x", 200},
		{"/missing.cgi", 404},
		{"/", 404},
		{"/../" + filepath.Base(outside) + "/evil.cgi", 400},
		{"/ok.cgi/../../../../etc/passwd", 400},
		{"/ok.cgi/a/..", 400},
		{`/ok.cgi/a\..\..\etc`, 400},
		{"/ok.cgi/./a//b", 200},
		{"/.hidden.cgi", 403},
		{"/.git/config", 403},
		{"/.htaccess", 403},
		{"/./ok.cgi", 404},
		{"/plain.cgi", 403},
		{"/dir.cgi", 403},
		{"/dir.cgi/", 403},
		{"/escape.cgi", 403},
		{"/outdir", 403},
		{"/dev.cgi", 403},
		{"/junk.cgi", 500},
		{"/ok.cgi/a\x00b", 400},
	}
	for _, tt := range tests {
		env := environ.Env{"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": tt.path,
			"SERVER_NAME": "x", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1"}
		s := serve(t, context.Background(), rn, env, nil, nil)
		if s.resp == nil || s.resp.StatusCode != tt.status {
			t.Errorf("%s: %v, want %d", tt.path, s.raw, tt.status)
			continue
		}
		if tt.status == 200 && s.body != "ran\n" {
			t.Errorf("%s: body %q", tt.path, s.body)
		}
		if tt.status != 200 && strings.Contains(s.body, "ran") {
			t.Errorf("%s: the script ran", tt.path)
		}
	}
	if e := logs.FilterMessage("could not start the script").All(); len(e) != 1 || e[0].ContextMap()["script"] != "junk.cgi" {
		t.Errorf("start failure log: %+v", e)
	}
	refused := logs.FilterMessage("refused to run script").All()
	if len(refused) < 6 {
		t.Errorf("%d refusal log lines, want one per 403: %+v", len(refused), refused)
	}
	for _, e := range refused {
		if e.ContextMap()["script"] == "escape.cgi" && !strings.Contains(e.ContextMap()["error"].(string), "outside root") {
			t.Errorf("escape logged as %v", e.ContextMap())
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// cgiEnv is a plain GET of path with no front end around it.
func cgiEnv(method, path, query string) environ.Env {
	return environ.Env{"REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
		"SERVER_NAME": "example.com", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
		"REMOTE_ADDR": "127.0.0.1", "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "test"}
}

func TestTimeout(t *testing.T) {
	pids := t.TempDir()
	ev := newEvents()
	rn := newRunner(t, Config{Timeout: 300 * time.Millisecond, KillGrace: 2 * time.Second,
		Env: map[string]string{"PIDDIR": pids}, Observer: ev}, nil)
	start := time.Now()
	s := serve(t, context.Background(), rn, cgiEnv("GET", "/sleep.cgi", ""), nil, nil)
	if s.resp == nil || s.resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("answer %q, want 504", s.raw)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v: SIGTERM did not end the script", d)
	}
	script, child := readPid(t, filepath.Join(pids, "script.pid")), readPid(t, filepath.Join(pids, "child.pid"))
	waitGone(t, script, script, child)
	if s.info.AppStatus != 128+int(syscall.SIGTERM) {
		t.Errorf("AppStatus %d, want %d", s.info.AppStatus, 128+int(syscall.SIGTERM))
	}
	for _, e := range []string{"timeout sleep.cgi", "ended sleep.cgi timeout"} {
		if !ev.has(e) {
			t.Errorf("observer not told %q: %v", e, ev.list)
		}
	}
	if ev.has("killed sleep.cgi") {
		t.Errorf("SIGKILL reported though SIGTERM sufficed")
	}
}

// TestTimeoutAfterHead: once the head went out, a timeout cuts the
// response short.
func TestTimeoutAfterHead(t *testing.T) {
	pids := t.TempDir()
	rn := newRunner(t, Config{Timeout: 300 * time.Millisecond, Env: map[string]string{"PIDDIR": pids}}, nil)
	s := serve(t, context.Background(), rn, cgiEnv("GET", "/sleep.cgi", "head"), nil, nil)
	if !s.res.Incomplete() {
		t.Fatalf("result %+v not incomplete; raw %d bytes", s.res, len(s.raw))
	}
	script := readPid(t, filepath.Join(pids, "script.pid"))
	waitGone(t, script, script, readPid(t, filepath.Join(pids, "child.pid")))
}

// TestKillAfterGrace: a script that ignores SIGTERM gets SIGKILL.
func TestKillAfterGrace(t *testing.T) {
	pids := t.TempDir()
	ev := newEvents()
	log, logs := observed(t)
	rn := newRunner(t, Config{Timeout: 200 * time.Millisecond, KillGrace: 200 * time.Millisecond,
		Env: map[string]string{"PIDDIR": pids}, Observer: ev}, log)
	s := serve(t, context.Background(), rn, cgiEnv("GET", "/sleep.cgi", "noterm"), nil, nil)
	if s.resp == nil || s.resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("answer %q, want 504", s.raw)
	}
	script := readPid(t, filepath.Join(pids, "script.pid"))
	waitGone(t, script, script, readPid(t, filepath.Join(pids, "child.pid")))
	if !ev.has("killed sleep.cgi") || logs.FilterMessage("script needed SIGKILL after kill_grace").Len() != 1 {
		t.Errorf("SIGKILL not reported: %v", ev.list)
	}
	if s.info.AppStatus != 128+int(syscall.SIGKILL) {
		t.Errorf("AppStatus %d", s.info.AppStatus)
	}
}

// cancelAfter cancels a context once n bytes were written to it.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.n -= len(p)
	if c.n <= 0 {
		c.cancel()
	}
	return len(p), nil
}

// TestClientCancel: an endless script whose request is cancelled (a
// FastCGI abort) is killed and the request ends.
func TestClientCancel(t *testing.T) {
	pids := t.TempDir()
	rn := newRunner(t, Config{Env: map[string]string{"PIDDIR": pids}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan served)
	go func() {
		done <- serve(t, ctx, rn, cgiEnv("GET", "/infinite.cgi", ""), nil, &cancelAfter{n: 1 << 20, cancel: cancel})
	}()
	select {
	case s := <-done:
		if s.res.Err == nil {
			t.Errorf("result %+v: no error for a cancelled endless response", s.res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("request still running 10s after cancel")
	}
	pid := readPid(t, filepath.Join(pids, "script.pid"))
	waitGone(t, pid, pid)
}

// TestClientStopsReading: a client that stops reading an endless response
// does not keep the script alive past the timeout, and the timeout cuts the
// response and frees the script's slot although the client stays
// connected: a request waiting for that slot runs.
func TestClientStopsReading(t *testing.T) {
	pids := t.TempDir()
	rn := newRunner(t, Config{Timeout: 500 * time.Millisecond, MaxConcurrency: 1, QueueSize: 1,
		QueueTimeout: 10 * time.Second, Env: map[string]string{"PIDDIR": pids}}, nil)
	srv := httpFront(t, rn)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	must(t, err)
	defer conn.Close()
	must(t, conn.(*net.TCPConn).SetReadBuffer(4096))
	req, _ := http.NewRequest("GET", "http://example.com/infinite.cgi", nil)
	must(t, req.Write(conn))
	res, err := http.ReadResponse(bufio.NewReader(conn), req)
	must(t, err)
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	// Read no more; the script is stopped by the timeout all the same.
	pid := readPid(t, filepath.Join(pids, "script.pid"))
	s := get(t, rn, "GET /hello.cgi HTTP/1.0\r\n\r\n")
	if s.resp.StatusCode != 200 || s.body != "hello\n" {
		t.Errorf("a request after the timeout got %q: the stopped script's slot is still taken", s.raw)
	}
	waitGone(t, pid, pid)
	conn.Close()
}

// block is a request body that holds a script (count.cgi) until released.
func block() (io.Reader, func()) {
	pr, pw := io.Pipe()
	return pr, func() { pw.Write([]byte("x")); pw.Close() }
}

func TestConcurrencyCap(t *testing.T) {
	ev := newEvents()
	log, logs := observed(t)
	rn := newRunner(t, Config{MaxConcurrency: 1, QueueSize: 1, QueueTimeout: time.Second, Observer: ev}, log)
	first, release := occupy(t, rn, ev)

	// One may wait, for QueueTimeout, and then gets 503.
	waited := make(chan served)
	go func() { waited <- serve(t, context.Background(), rn, cgiEnv("GET", "/hello.cgi", ""), nil, nil) }()
	waitFor(t, "a request in the queue", func() bool { return rn.lim.waiting.Load() == 1 })
	// The queue is full: 503 at once.
	start := time.Now()
	s := serve(t, context.Background(), rn, cgiEnv("GET", "/hello.cgi", ""), nil, nil)
	if s.resp == nil || s.resp.StatusCode != 503 || s.resp.Header.Get("Retry-After") == "" {
		t.Errorf("queue full: %q, want 503 with Retry-After", s.raw)
	}
	if time.Since(start) > 500*time.Millisecond {
		t.Errorf("a full queue answered after %v", time.Since(start))
	}
	if r := <-ev.rejected; r != RejectQueueFull {
		t.Errorf("rejected for %s, want queue_full", r)
	}
	if s := <-waited; s.resp == nil || s.resp.StatusCode != 503 {
		t.Errorf("queue timeout: %q, want 503", s.raw)
	}
	if r := <-ev.rejected; r != RejectQueueTimeout {
		t.Errorf("rejected for %s, want queue_timeout", r)
	}
	if logs.FilterMessage("cgi queue full; answered 503").Len() != 1 {
		t.Errorf("no log line for the full queue")
	}

	// A waiting request runs once the slot is free.
	queued := make(chan served)
	go func() { queued <- serve(t, context.Background(), rn, cgiEnv("GET", "/hello.cgi", ""), nil, nil) }()
	waitFor(t, "a request in the queue", func() bool { return rn.lim.waiting.Load() == 1 })
	release()
	if s := <-first; s.body != "1\n" {
		t.Errorf("first: %q", s.raw)
	}
	if s := <-queued; s.resp == nil || s.resp.StatusCode != 200 || s.body != "hello\n" {
		t.Errorf("queued: %q", s.raw)
	}
}

func TestStderrLogging(t *testing.T) {
	ev := newEvents()
	log, logs := observed(t)
	rn := newRunner(t, Config{Observer: ev}, log)
	s := serve(t, context.Background(), rn, cgiEnv("GET", "/stderr.cgi", ""), nil, nil)
	if s.resp == nil || s.resp.StatusCode != 200 || s.body != "ok\n" || s.res.Err != nil {
		t.Fatalf("a script exiting 3 after a whole response: %q %v", s.raw, s.res.Err)
	}
	lines := logs.FilterMessage("script stderr").All()
	if len(lines) != 2 {
		t.Fatalf("%d stderr lines logged: %+v", len(lines), lines)
	}
	for i, want := range []string{"first line", "second line"} {
		m := lines[i].ContextMap()
		if m["line"] != want || m["request_id"] != s.info.ID || m["script"] != "stderr.cgi" || s.info.ID == "" {
			t.Errorf("line %d: %v (request %q)", i, m, s.info.ID)
		}
	}
	if s.info.AppStatus != 3 {
		t.Errorf("AppStatus %d, want 3", s.info.AppStatus)
	}
	exit := logs.FilterMessage("script exited abnormally").All()
	if len(exit) != 1 || exit[0].ContextMap()["exit_status"] != int64(3) {
		t.Errorf("exit status not logged: %+v", exit)
	}
	if !ev.has("stderr stderr.cgi") || !ev.has("ended stderr.cgi error") {
		t.Errorf("observer: %v", ev.list)
	}
}

// TestNoReadLargeBody: a script that never reads its stdin while a large
// body is posted answers, and nothing waits on the body.
func TestNoReadLargeBody(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	for _, q := range []string{"", "close"} {
		env := cgiEnv("POST", "/noread.cgi", q)
		env["CONTENT_LENGTH"] = strconv.Itoa(64 << 20)
		done := make(chan served)
		go func() { done <- serve(t, context.Background(), rn, env, &zeros{n: 64 << 20}, nil) }()
		select {
		case s := <-done:
			if s.resp == nil || s.resp.StatusCode != 200 || s.body != "ok\n" {
				t.Errorf("%q: %q", q, s.raw)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%q: deadlock: no answer after 20s", q)
		}
	}
}

// TestUpload100MB: a 100 MB body streams through with bounded memory.
func TestUpload100MB(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB upload")
	}
	rn := newRunner(t, Config{}, nil)
	const size = 100 << 20
	env := cgiEnv("POST", "/count.cgi", "")
	env["CONTENT_LENGTH"] = strconv.Itoa(size)
	// Warm up the pools, then measure.
	serve(t, context.Background(), rn, cgiEnv("GET", "/hello.cgi", ""), nil, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := serve(t, context.Background(), rn, env, &zeros{n: size}, nil)
	runtime.ReadMemStats(&after)
	if s.body != strconv.Itoa(size)+"\n" || s.res.BytesIn != size {
		t.Fatalf("script counted %q, core read %d", s.body, s.res.BytesIn)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB for a %d MiB upload", alloc>>10, size>>20)
	if alloc > 4<<20 {
		t.Errorf("allocated %d bytes for the upload: the body is held in memory", alloc)
	}
}

// TestSpool: a body without a length is spooled (in memory when small, to
// a temporary file otherwise) and the script gets CONTENT_LENGTH; beyond
// MaxSpoolBytes the answer is 413.
func TestSpool(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	rn := newRunner(t, Config{MaxSpoolBytes: 1 << 20}, nil)
	for _, n := range []int{0, 10, 100 << 10, 1 << 20} {
		want := strings.Repeat("0123456789abcdef", n/16+1)[:n]
		env := cgiEnv("POST", "/echo.cgi", "")
		s := serve(t, context.Background(), rn, env, io.MultiReader(strings.NewReader(want)), nil)
		cl := "CONTENT_LENGTH=" + strconv.Itoa(n) + "\n"
		if n == 0 {
			cl = "CONTENT_LENGTH=unset\n"
		}
		if s.resp == nil || s.resp.StatusCode != 200 || s.body != cl+want {
			t.Errorf("%d bytes: status %v, body starts %.60q", n, s.resp != nil && s.resp.StatusCode == 200, s.body)
		}
	}
	s := serve(t, context.Background(), rn, cgiEnv("POST", "/echo.cgi", ""), &zeros{n: 1<<20 + 1}, nil)
	if s.resp == nil || s.resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("over max_spool_bytes: %.80q, want 413", s.raw)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("spool files left behind: %v", ents)
	}

	rn = newRunner(t, Config{MaxSpoolBytes: -1}, nil)
	s = serve(t, context.Background(), rn, cgiEnv("POST", "/echo.cgi", ""), strings.NewReader("x"), nil)
	if s.resp == nil || s.resp.StatusCode != http.StatusLengthRequired {
		t.Errorf("spooling off: %.80q, want 411", s.raw)
	}
}

// TestSpoolChunkedHTTP: a chunked upload through net/http.
func TestSpoolChunkedHTTP(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	srv := httpFront(t, rn)
	want := strings.Repeat("chunk", 50000)
	res, err := http.Post(srv.URL+"/echo.cgi", "text/plain", io.MultiReader(strings.NewReader(want)))
	must(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "CONTENT_LENGTH=250000\n"+want {
		t.Errorf("body starts %.60q", b)
	}
}

func TestMissingContentType(t *testing.T) {
	log, logs := observed(t)
	rn := newRunner(t, Config{}, log)
	s := serve(t, context.Background(), rn, cgiEnv("GET", "/notype.cgi", ""), nil, nil)
	if s.resp == nil || s.resp.StatusCode != http.StatusBadGateway || strings.Contains(s.body, "body") {
		t.Fatalf("%q, want 502", s.raw)
	}
	e := logs.FilterMessageSnippet("no Content-Type").All()
	if len(e) != 1 || e[0].ContextMap()["script"] != "notype.cgi" {
		t.Errorf("log: %+v", e)
	}
}

// TestStatusWithoutContentType: git http-backend's 404 has a Status and no
// Content-Type; it passes.
func TestStatusWithoutContentType(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	s := serve(t, context.Background(), rn, cgiEnv("GET", "/status.cgi", ""), nil, nil)
	if s.resp == nil || s.resp.StatusCode != 404 || s.resp.Header.Get("Cache-Control") != "no-cache" || s.body != "" {
		t.Errorf("%q", s.raw)
	}
}

func TestLocalRedirectLoop(t *testing.T) {
	log, logs := observed(t)
	rn := newRunner(t, Config{MaxRedirects: 3}, log)
	rt := router{{"/cgi", rn}}
	rn.Redirect = rt
	env := cgiEnv("GET", "/cgi/loop.cgi", "")
	s := serve(t, context.Background(), rt, env, nil, nil)
	if s.resp == nil || s.resp.StatusCode != 500 {
		t.Fatalf("%q, want 500", s.raw)
	}
	if n := logs.FilterMessageSnippet("too many local redirects").Len(); n != 1 {
		t.Errorf("%d log lines for the loop", n)
	}
	if n := logs.FilterMessage("local redirect").Len(); n != 3 {
		t.Errorf("%d redirects followed, want 3", n)
	}
}

func TestHeadLimits(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	s := serve(t, context.Background(), rn, cgiEnv("GET", "/bighead.cgi", "10000"), nil, nil)
	if s.resp == nil || s.resp.StatusCode != 200 || len(s.resp.Header.Get("X-Big")) != 10000 {
		t.Errorf("a 10 kB header line: %.80q", s.raw)
	}
	s = serve(t, context.Background(), rn, cgiEnv("GET", "/bighead.cgi", "70000"), nil, nil)
	if s.resp == nil || s.resp.StatusCode != 502 {
		t.Errorf("a 70 kB head: %.80q, want 502", s.raw)
	}
	rn = newRunner(t, Config{MaxHeaderBytes: 1024}, nil)
	s = serve(t, context.Background(), rn, cgiEnv("GET", "/bighead.cgi", "2000"), nil, nil)
	if s.resp == nil || s.resp.StatusCode != 502 {
		t.Errorf("2 kB head over max_header_bytes 1024: %.80q, want 502", s.raw)
	}
}

// TestBodyNotAllowed: what a script writes after a 304 head is read and
// dropped, and the response is whole.
func TestBodyNotAllowed(t *testing.T) {
	ev := newEvents()
	rn := newRunner(t, Config{Observer: ev}, nil)
	s := serve(t, context.Background(), rn, cgiEnv("GET", "/notmod.cgi", ""), nil, nil)
	if s.resp == nil || s.resp.StatusCode != 304 || s.resp.Header.Get("Etag") != `"x"` || s.res.Err != nil {
		t.Errorf("%.80q (%v)", s.raw, s.res.Err)
	}
	if !ev.has("ended notmod.cgi ok") {
		t.Errorf("observer: %v", ev.list)
	}
}

func TestNPH(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	s := serve(t, context.Background(), rn, cgiEnv("GET", "/nph-hello.cgi", ""), nil, nil)
	if s.resp == nil || s.resp.StatusCode != 201 || s.resp.Header.Get("X-Nph") != "yes" ||
		s.resp.Header.Get("Content-Type") != "text/plain" || s.body != "nph body\n" || s.res.Err != nil {
		t.Errorf("%q (%v)", s.raw, s.res.Err)
	}
	s = serve(t, context.Background(), rn, cgiEnv("HEAD", "/nph-hello.cgi", ""), nil, nil)
	if s.resp == nil || s.resp.StatusCode != 201 || s.body != "" || s.res.Err != nil {
		t.Errorf("HEAD: %q (%v)", s.raw, s.res.Err)
	}
}

// TestDiesMidResponse: a script killed by a signal while it answers
// leaves a response the front end must cut short (or, if nothing was sent
// yet, the 500 page).
func TestDiesMidResponse(t *testing.T) {
	ev := newEvents()
	rn := newRunner(t, Config{Observer: ev}, nil)
	s := serve(t, context.Background(), rn, cgiEnv("GET", "/die.cgi", "20000"), nil, nil)
	if !s.res.Incomplete() {
		t.Errorf("result %+v: not incomplete", s.res)
	}
	// A small answer is held for flushDelay of quiet before it goes out;
	// the script dies right after writing it, so usually nothing was sent
	// and the client gets the 500 page. On a loaded machine the script can
	// be descheduled for longer than flushDelay between its write and its
	// death: then the answer went out and must be cut short instead. Never
	// a whole response.
	s = serve(t, context.Background(), rn, cgiEnv("GET", "/die.cgi", "100"), nil, nil)
	switch {
	case s.res.Incomplete():
		t.Logf("small body: sent before the script died, cut short (%v)", s.res.Err)
	case s.res.Err == nil || s.resp == nil || s.resp.StatusCode != 500:
		t.Errorf("small body: %q %v", s.raw, s.res.Err)
	}
	if !ev.has("ended die.cgi signal") {
		t.Errorf("observer: %v", ev.list)
	}
}

func TestShutdown(t *testing.T) {
	pids := t.TempDir()
	ev := newEvents()
	rn := newRunner(t, Config{Env: map[string]string{"PIDDIR": pids}, Observer: ev}, nil)
	done := make(chan served)
	go func() { done <- serve(t, context.Background(), rn, cgiEnv("GET", "/sleep.cgi", ""), nil, nil) }()
	<-ev.started
	script := readPid(t, filepath.Join(pids, "script.pid"))
	child := readPid(t, filepath.Join(pids, "child.pid"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rn.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if s := <-done; s.resp == nil || s.resp.StatusCode != 503 {
		t.Errorf("running request: %q, want 503", s.raw)
	}
	waitGone(t, script, script, child)
	s := serve(t, context.Background(), rn, cgiEnv("GET", "/hello.cgi", ""), nil, nil)
	if s.resp == nil || s.resp.StatusCode != 503 {
		t.Errorf("after shutdown: %q, want 503", s.raw)
	}
}

// TestShutdownKillNow: when Shutdown's context ends first, SIGKILL goes
// out at once.
func TestShutdownKillNow(t *testing.T) {
	pids := t.TempDir()
	ev := newEvents()
	rn := newRunner(t, Config{KillGrace: time.Minute, Env: map[string]string{"PIDDIR": pids}, Observer: ev}, nil)
	done := make(chan served)
	go func() { done <- serve(t, context.Background(), rn, cgiEnv("GET", "/sleep.cgi", "noterm"), nil, nil) }()
	<-ev.started
	script := readPid(t, filepath.Join(pids, "script.pid"))
	child := readPid(t, filepath.Join(pids, "child.pid"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := rn.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the context's deadline", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("request still running 10s after Shutdown's context ended")
	}
	waitGone(t, script, script, child)
	if !ev.has("killed sleep.cgi") {
		t.Errorf("observer: %v", ev.list)
	}
}

// TestBadContentLength: CONTENT_LENGTH is read by environ's one rule
// (1*DIGIT, at most 18 digits); a sign, spaces or a number past int64 are
// 400, never read differently from the peer.
func TestBadContentLength(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	for _, cl := range []string{"-5", "+3", " 3", "3 ", "0x3", "-0", "9223372036854775808", "1000000000000000000"} {
		env := cgiEnv("POST", "/count.cgi", "")
		env["CONTENT_LENGTH"] = cl
		r := httptest.NewRequest("POST", "/count.cgi", strings.NewReader("abc"))
		rec := httptest.NewRecorder()
		rn.ServeHTTP(rec, r.WithContext(environ.NewContext(r.Context(), env)))
		if rec.Code != 400 {
			t.Errorf("CONTENT_LENGTH %q: status %d, want 400", cl, rec.Code)
		}
	}
}

func TestHEAD(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	s := serve(t, context.Background(), rn, cgiEnv("HEAD", "/hello.cgi", ""), nil, nil)
	if s.resp == nil || s.resp.StatusCode != 200 || s.body != "" || s.resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("%q", s.raw)
	}
}

// TestWithoutCore: the Runner works under a plain net/http server too.
func TestWithoutCore(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	srv := httptest.NewServer(rn)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/test.cgi/p?q=1")
	must(t, err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	gwtest.CheckEnv(t, keyValues(t, string(b)), map[string]string{
		"env-SCRIPT_NAME":  "/test.cgi",
		"env-PATH_INFO":    "/p",
		"env-QUERY_STRING": "q=1",
	})
}

func BenchmarkHello(b *testing.B) {
	rn := newRunner(b, Config{}, nil)
	env := cgiEnv("GET", "/hello.cgi", "")
	h := &handler.Handler{App: rn}
	var out bytes.Buffer
	want := "Status: 200 OK\r\nContent-Length: 6\r\nContent-Type: text/plain\r\n\r\nhello\n"
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		h.Serve(context.Background(), &handler.Request{Env: env}, &out)
		if out.String() != want {
			b.Fatalf("%q", out.String())
		}
	}
}

// TestStderrReachesErrorStream: the script's stderr lines also go to the
// request's error stream (FCGI_STDERR behind FastCGI), as fcgiwrap does.
func TestStderrReachesErrorStream(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	var errs bytes.Buffer
	h := &handler.Handler{App: rn}
	res := h.Serve(context.Background(), &handler.Request{
		Env: cgiEnv("GET", "/stderr.cgi", ""), Errors: &errs, Protocol: "test",
	}, io.Discard)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if errs.String() != "first line\nsecond line\n" {
		t.Errorf("error stream %q", errs.String())
	}
}

// TestBurstQueues: with the defaults of a one-CPU host (two slots), a
// burst of 32 concurrent requests waits in the queue and every request is
// served, as fcgiwrap's listen backlog would have it — none gets 503.
func TestBurstQueues(t *testing.T) {
	ev := newEvents()
	rn := newRunner(t, Config{MaxConcurrency: 2, Observer: ev}, nil)
	const n = 32
	results := make(chan served, n)
	var releases []func()
	for range n {
		body, release := block()
		releases = append(releases, release)
		env := cgiEnv("POST", "/count.cgi", "")
		env["CONTENT_LENGTH"] = "1"
		go func() { results <- serve(t, context.Background(), rn, env, body, nil) }()
	}
	waitFor(t, "30 requests in the queue", func() bool { return rn.lim.waiting.Load() == n-2 })
	// The status page's numbers for that moment.
	if s, want := rn.Stats(), (Stats{MaxConcurrency: 2, Running: 2, QueueSize: DefaultQueueSize, Queued: n - 2}); s != want {
		t.Errorf("Stats() = %+v, want %+v", s, want)
	}
	for _, release := range releases {
		go release() // a queued request reads its body only once it runs
	}
	for range n {
		if s := <-results; s.resp == nil || s.resp.StatusCode != 200 || s.body != "1\n" {
			t.Errorf("answer %q", s.raw)
		}
	}
	if ev.has("rejected queue_full") || ev.has("rejected queue_timeout") {
		t.Errorf("requests rejected: %v", ev.list)
	}
}

// TestDrainAnswersQueued: when a shutdown begins (Drain), a request waiting
// for a slot gets 503 with Retry-After at once, and the running script
// finishes its answer.
func TestDrainAnswersQueued(t *testing.T) {
	ev := newEvents()
	rn := newRunner(t, Config{MaxConcurrency: 1, QueueTimeout: time.Minute, Observer: ev}, nil)
	body, release := block()
	env := cgiEnv("POST", "/count.cgi", "")
	env["CONTENT_LENGTH"] = "1"
	first := make(chan served, 1)
	go func() { first <- serve(t, context.Background(), rn, env, body, nil) }()
	<-ev.started
	queued := make(chan served, 1)
	go func() { queued <- serve(t, context.Background(), rn, cgiEnv("GET", "/hello.cgi", ""), nil, nil) }()
	waitFor(t, "a request in the queue", func() bool { return rn.lim.waiting.Load() == 1 })
	rn.Drain()
	if s := <-queued; s.resp == nil || s.resp.StatusCode != 503 || s.resp.Header.Get("Retry-After") == "" {
		t.Errorf("queued request at drain: %q, want 503 with Retry-After", s.raw)
	}
	if s := get(t, rn, "GET /hello.cgi HTTP/1.0\r\n\r\n"); s.resp.StatusCode != 503 {
		t.Errorf("new request after drain: %q, want 503", s.raw)
	}
	release()
	if s := <-first; s.resp == nil || s.resp.StatusCode != 200 || s.body != "1\n" {
		t.Errorf("running script at drain: %q", s.raw)
	}
}

// TestDrainRunsRequestsThatFindASlot: a request that arrives during the
// drain and finds a slot free runs — the web server sent it on a connection
// opened before the stop (one taken from the listen queue, or kept alive);
// only after Shutdown is every request refused. Before, every request after
// Drain got 503, and the connections a graceful stop rescued from the
// listen queue were answered 503 instead of served.
func TestDrainRunsRequestsThatFindASlot(t *testing.T) {
	rn := newRunner(t, Config{MaxConcurrency: 1}, nil)
	rn.Drain()
	if s := get(t, rn, "GET /hello.cgi HTTP/1.0\r\n\r\n"); s.resp == nil || s.resp.StatusCode != 200 {
		t.Errorf("request with a free slot during the drain: %q, want 200", s.raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rn.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := get(t, rn, "GET /hello.cgi HTTP/1.0\r\n\r\n"); s.resp == nil || s.resp.StatusCode != 503 {
		t.Errorf("request after Shutdown: %q, want 503", s.raw)
	}
}

// TestStderrBounded: a script that floods its stderr puts at most 1,000
// lines of at most 8 KiB in the log (and the web server's error stream),
// and one line saying how many were dropped.
func TestStderrBounded(t *testing.T) {
	log, logs := observed(t)
	rn := newRunner(t, Config{}, log)
	var errs bytes.Buffer
	h := &handler.Handler{App: rn}
	var out bytes.Buffer
	h.Serve(context.Background(), &handler.Request{Env: cgiEnv("GET", "/flood.cgi", ""), Errors: &errs, Protocol: "test"}, &out)
	if !strings.HasSuffix(out.String(), "\r\n\r\nok\n") {
		t.Fatalf("answer %q", out.String())
	}
	entries := logs.FilterMessage("script stderr").All()
	if len(entries) != 1000 {
		t.Errorf("%d stderr entries logged, want 1000", len(entries))
	}
	for _, e := range entries {
		if l := len(e.ContextMap()["line"].(string)); l > 8<<10 {
			t.Fatalf("a logged line of %d bytes", l)
		}
	}
	if n := strings.Count(errs.String(), "\n"); n != 1000 {
		t.Errorf("%d lines to the error stream, want 1000", n)
	}
	d := logs.FilterMessage("script stderr lines dropped").All()
	if len(d) != 1 || d[0].ContextMap()["lines"].(int64) != 3000+3-1000 {
		t.Errorf("dropped: %+v", d)
	}
}

// slowCore holds the first log entry until release is closed, as a log
// that falls behind on a loaded machine does.
type slowCore struct {
	zapcore.Core
	first   *sync.Once
	entered chan struct{}
	release chan struct{}
}

func (c slowCore) With(f []zapcore.Field) zapcore.Core {
	return slowCore{c.Core.With(f), c.first, c.entered, c.release}
}

func (c slowCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c slowCore) Write(e zapcore.Entry, f []zapcore.Field) error {
	if e.Message == "script stderr" {
		c.first.Do(func() {
			close(c.entered)
			<-c.release
		})
	}
	return c.Core.Write(e, f)
}

// TestStderrReadAfterExitDrain: stderr lines the script wrote before it
// exited are all logged even when the log falls behind by more than
// exitDrain; that limit is for a pipe that stays empty, as on stdout.
// Before, finish's deadline cut the relay at exitDrain after the exit and
// what was still in the pipe was lost (TestStderrBounded logged 979 lines
// of 1000 under load, and no "dropped" line).
func TestStderrReadAfterExitDrain(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("pipeBuffered is Linux's")
	}
	core, logs := observer.New(zap.DebugLevel)
	slow := slowCore{Core: core, first: new(sync.Once), entered: make(chan struct{}), release: make(chan struct{})}
	rn := newRunner(t, Config{}, zap.New(slow))
	done := make(chan served, 1)
	go func() { done <- serve(t, context.Background(), rn, cgiEnv("GET", "/flood.cgi", ""), nil, nil) }()
	<-slow.entered
	// The script writes the rest and exits; finish's deadline passes while
	// the log is held. This Sleep stays: the time passing is the contract
	// under test (exitDrain, on a real pipe, which synctest cannot fake).
	time.Sleep(3 * exitDrain)
	close(slow.release)
	s := <-done
	if s.body != "ok\n" {
		t.Fatalf("answer %q", s.raw)
	}
	if n := logs.FilterMessage("script stderr").Len(); n != 1000 {
		t.Errorf("%d stderr lines logged, want 1000", n)
	}
	if logs.FilterMessage("script stderr lines dropped").Len() != 1 {
		t.Errorf("no line counting the dropped ones")
	}
}
