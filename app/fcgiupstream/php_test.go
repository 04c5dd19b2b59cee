//go:build unix

package fcgiupstream

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// phpScripts is the document root the php-fpm tests use.
var phpScripts = map[string]string{
	"hello.php": `<?php echo "hello";`,
	"env.php": `<?php
header('Content-Type: application/json');
echo json_encode([
  'server' => $_SERVER,
  'getenv_proxy' => getenv('HTTP_PROXY'),
  'get' => $_GET,
  'post' => $_POST,
  'files' => array_map(fn($f) => ['name' => $f['name'], 'size' => $f['size'], 'error' => $f['error'],
      'md5' => $f['error'] === 0 ? md5_file($f['tmp_name']) : ''], $_FILES),
]);`,
	"md5.php":        `<?php $b = file_get_contents('php://input'); echo md5($b), ' ', strlen($b), ' ', $_SERVER['CONTENT_LENGTH'] ?? '-';`,
	"sleep.php":      `<?php if (isset($_GET["flag"])) touch($_GET["flag"]); usleep((int)$_GET["ms"] * 1000); echo getmypid();`,
	"pid.php":        `<?php echo getmypid();`,
	"stderr.php":     `<?php error_log('marker-' . $_GET['m']); echo 'logged';`,
	"headers.php":    `<?php http_response_code(418); header('X-A: 1'); setcookie('a', '1'); setcookie('b', '2'); echo 'teapot';`,
	"redirect.php":   `<?php header('Location: /elsewhere?x=1'); echo 'moved';`,
	"long.php":       `<?php header('X-Long: ' . str_repeat('a', 5000)); echo 'long';`,
	"big.php":        `<?php echo str_repeat('0123456789abcdef', (int)$_GET['kb'] * 64);`,
	"blog/index.php": `<?php echo 'blog index ', $_SERVER['SCRIPT_NAME'];`,
	"sse.php": `<?php
while (ob_get_level()) ob_end_flush(); // php.ini's output_buffering holds 4 KiB
header('Content-Type: text/event-stream');
$dir = $_GET['dir'];
for ($i = 0; $i < 5; $i++) {
  echo "data: $i\n\n";
  flush();
  usleep(100000);
  // Go on only once the client has seen this event (or after 5 s).
  for ($w = 0; $w < 500 && !file_exists("$dir/ack-$i"); $w++) usleep(10000);
  if (!file_exists("$dir/ack-$i")) { echo "data: stalled\n\n"; break; }
}
echo "data: end\n\n";`,
	"locredir.php": `<?php ini_set('default_mimetype', ''); header_remove('X-Powered-By');
$to = $_GET['to'] ?? '/hello.php'; if ($to === 'self') $to = '/locredir.php?to=self';
header('Location: ' . $to); http_response_code(200);`,
	"ppid.php":     `<?php usleep((int)($_GET['ms'] ?? 0) * 1000); echo posix_getppid();`,
	"hugehead.php": `<?php for ($i = 0; $i < 140; $i++) header("X-H$i: " . str_repeat('h', 500)); echo 'huge';`,
	"style.css":    `p {}`,
}

// phpHarness is php-fpm started by the test with an Upstream in front.
type phpHarness struct {
	root, dir, socket string
	proc              *peertest.Process
	up                *Upstream
	logs              *observer.ObservedLogs
	watch             *poolWatch
}

func startPHP(t *testing.T, o peertest.PHPFPMOptions, cfg Config) *phpHarness {
	t.Helper()
	h := &phpHarness{root: peertest.Dir(t), dir: peertest.Dir(t), watch: &poolWatch{}}
	for name, s := range phpScripts {
		peertest.WriteFile(t, h.root, name, s)
	}
	h.proc, h.socket = peertest.PHPFPMWith(t, h.dir, o)
	cfg.Upstream = "unix:" + h.socket
	cfg.Root = h.root
	cfg.Observer = h.watch
	var log *zap.Logger
	log, h.logs = logs()
	up, err := New(withGofast(cfg), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	h.up = up
	return h
}

func (h *phpHarness) get(t *testing.T, pathInfo string, kv ...string) response {
	t.Helper()
	p, q, _ := strings.Cut(pathInfo, "?")
	env := reqEnv("GET", p, append([]string{"QUERY_STRING", q, "REQUEST_URI", "/php" + pathInfo}, kv...)...)
	return serve(t, h.up, env, nil)
}

func (h *phpHarness) post(t *testing.T, pathInfo, ctype string, body []byte, chunked bool) response {
	t.Helper()
	env := reqEnv("POST", pathInfo, "CONTENT_TYPE", ctype)
	if !chunked {
		env["CONTENT_LENGTH"] = strconv.Itoa(len(body))
	}
	return serve(t, h.up, env, bytes.NewReader(body))
}

type phpEnv struct {
	Server      map[string]any    `json:"server"`
	GetenvProxy any               `json:"getenv_proxy"`
	Get         map[string]string `json:"get"`
	Post        map[string]string `json:"post"`
	Files       map[string]struct {
		Name  string `json:"name"`
		Size  int    `json:"size"`
		Error int    `json:"error"`
		MD5   string `json:"md5"`
	} `json:"files"`
}

func decodeEnv(t *testing.T, r response) phpEnv {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %q", r.status, r.body)
	}
	var e phpEnv
	// PHP encodes an empty array as [], not {}.
	body := strings.NewReplacer(`"get":[]`, `"get":{}`, `"post":[]`, `"post":{}`, `"files":[]`, `"files":{}`).Replace(r.body)
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
	return e
}

func TestPHPGet(t *testing.T) { forEachTransport(t, testPHPGet) }

func testPHPGet(t *testing.T, tr string) {
	h := startPHP(t, peertest.PHPFPMOptions{Workers: 2}, Config{MaxConns: 2, Transport: tr})
	r := h.get(t, "/hello.php")
	if r.status != 200 || r.body != "hello" || r.header.Get("Content-Type") != "text/html; charset=UTF-8" {
		t.Errorf("hello: %d %q %v", r.status, r.body, r.header)
	}
	if r.header.Get("Content-Length") != "5" {
		t.Errorf("Content-Length %q", r.header.Get("Content-Length"))
	}
	r = h.get(t, "/headers.php")
	if r.status != 418 || r.body != "teapot" || r.header.Get("X-A") != "1" || len(r.header.Values("Set-Cookie")) != 2 {
		t.Errorf("headers: %d %q %v", r.status, r.body, r.header)
	}
	r = h.get(t, "/redirect.php")
	if r.status != 302 || r.header.Get("Location") != "/elsewhere?x=1" {
		t.Errorf("redirect: %d %v", r.status, r.header)
	}
	r = h.get(t, "/blog/")
	if r.status != 200 || r.body != "blog index /php/blog/index.php" {
		t.Errorf("index: %d %q", r.status, r.body)
	}
	if r := h.get(t, "/blog"); r.status != 301 || r.header.Get("Location") != "/php/blog/" {
		t.Errorf("directory: %d %v", r.status, r.header)
	}
	if r := h.get(t, "/style.css"); r.status != 403 {
		t.Errorf("not a script: %d", r.status)
	}
	if r := h.get(t, "/nope.php"); r.status != 404 {
		t.Errorf("missing: %d", r.status)
	}
	// HEAD: the headers of a GET, no body.
	r = serve(t, h.up, reqEnv("HEAD", "/hello.php"), nil)
	if r.status != 200 || r.body != "" || r.header.Get("Content-Type") == "" {
		t.Errorf("HEAD: %d %q %v", r.status, r.body, r.header)
	}
	// A body larger than what is held back streams through.
	r = h.get(t, "/big.php?kb=300")
	if r.status != 200 || len(r.body) != 300<<10 || r.header.Get("Content-Length") != "" {
		t.Errorf("big: %d, %d bytes, %v", r.status, len(r.body), r.header)
	}
	// A 5,000-byte header line: gofast gives up on lines over 1 KiB.
	r = h.get(t, "/long.php")
	if tr == TransportGofast && r.status != 502 {
		t.Errorf("header line over 1 KiB through gofast: %d", r.status)
	}
	if tr == TransportNative && (r.status != 200 || len(r.header.Get("X-Long")) != 5000 || r.body != "long") {
		t.Errorf("header line of 5,000 bytes: %d %q", r.status, r.body)
	}
	// A 70 KiB head is 502 through either transport.
	if r := h.get(t, "/hugehead.php"); r.status != 502 {
		t.Errorf("70 KiB head: %d", r.status)
	}
}

func TestPHPEnvironment(t *testing.T) {
	h := startPHP(t, peertest.PHPFPMOptions{Workers: 1, Env: []string{"HTTP_PROXY=http://proxy.invalid:1"}},
		Config{MaxConns: 1})
	r := h.get(t, "/env.php/extra/path?x=1&y=%2F", "HTTP_X_CUSTOM", "yes", "HTTPS", "on",
		"REMOTE_USER", "alice", "HTTP_PROXY", "http://evil.invalid")
	e := decodeEnv(t, r)
	want := map[string]string{
		"SCRIPT_NAME":     "/php/env.php",
		"SCRIPT_FILENAME": h.root + "/env.php",
		"PATH_INFO":       "/extra/path",
		"PATH_TRANSLATED": h.root + "/extra/path",
		"DOCUMENT_ROOT":   h.root,
		"PHP_SELF":        "/php/env.php/extra/path",
		"REQUEST_URI":     "/php/env.php/extra/path?x=1&y=%2F",
		"QUERY_STRING":    "x=1&y=%2F",
		"HTTP_X_CUSTOM":   "yes",
		"HTTPS":           "on",
		"REMOTE_USER":     "alice",
		"REQUEST_METHOD":  "GET",
	}
	for k, v := range want {
		if e.Server[k] != v {
			t.Errorf("$_SERVER[%s] = %v, want %q", k, e.Server[k], v)
		}
	}
	if e.Get["x"] != "1" || e.Get["y"] != "/" {
		t.Errorf("$_GET %v", e.Get)
	}
	if _, ok := e.Server["HTTP_PROXY"]; ok || e.GetenvProxy != false {
		t.Errorf("HTTP_PROXY visible to PHP: $_SERVER %v, getenv %v", e.Server["HTTP_PROXY"], e.GetenvProxy)
	}

	// Without the core (which drops HTTP_PROXY first) the app drops it
	// itself; a Proxy header never becomes HTTP_PROXY either.
	req := httptest.NewRequest("GET", "/php/env.php", nil)
	req.Header.Set("Proxy", "http://evil.invalid")
	env := environ.FromRequest(req, environ.Options{})
	env["SCRIPT_NAME"], env["PATH_INFO"] = "/php", "/env.php"
	env["HTTP_PROXY"] = "http://evil.invalid"
	rec := httptest.NewRecorder()
	h.up.ServeHTTP(rec, req.WithContext(environ.NewContext(req.Context(), env)))
	e = decodeEnv(t, response{status: rec.Code, body: rec.Body.String()})
	if _, ok := e.Server["HTTP_PROXY"]; ok || e.GetenvProxy != false {
		t.Errorf("HTTP_PROXY visible to PHP without the core: %v %v", e.Server["HTTP_PROXY"], e.GetenvProxy)
	}
}

func TestPHPPost(t *testing.T) { forEachTransport(t, testPHPPost) }

func testPHPPost(t *testing.T, tr string) {
	h := startPHP(t, peertest.PHPFPMOptions{Workers: 2}, Config{MaxConns: 2, Transport: tr})
	form := url.Values{"a": {"1"}, "b": {"x y&z"}}.Encode()
	for _, chunked := range []bool{false, true} {
		e := decodeEnv(t, h.post(t, "/env.php", "application/x-www-form-urlencoded", []byte(form), chunked))
		if e.Post["a"] != "1" || e.Post["b"] != "x y&z" {
			t.Errorf("chunked=%v: $_POST %v", chunked, e.Post)
		}
		if e.Server["CONTENT_LENGTH"] != strconv.Itoa(len(form)) {
			t.Errorf("chunked=%v: CONTENT_LENGTH %v", chunked, e.Server["CONTENT_LENGTH"])
		}
	}

	file := make([]byte, 3<<20)
	rand.Read(file)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("title", "holiday")
	fw, _ := mw.CreateFormFile("photo", "photo.bin")
	fw.Write(file)
	mw.Close()
	sum := md5.Sum(file)
	e := decodeEnv(t, h.post(t, "/env.php", mw.FormDataContentType(), body.Bytes(), false))
	f := e.Files["photo"]
	if e.Post["title"] != "holiday" || f.Name != "photo.bin" || f.Size != len(file) || f.Error != 0 ||
		f.MD5 != hex.EncodeToString(sum[:]) {
		t.Errorf("multipart: $_POST %v, $_FILES %+v", e.Post, e.Files)
	}
}

func TestPHPUpload(t *testing.T) { forEachTransport(t, testPHPUpload) }

func testPHPUpload(t *testing.T, tr string) {
	h := startPHP(t, peertest.PHPFPMOptions{Workers: 2}, Config{MaxConns: 2, MaxSpoolBytes: 8 << 20, Transport: tr})
	data := make([]byte, 6<<20)
	rand.Read(data)
	sum := md5.Sum(data)
	want := fmt.Sprintf("%x %d %d", sum, len(data), len(data))
	for _, chunked := range []bool{false, true} {
		r := h.post(t, "/md5.php", "application/octet-stream", data, chunked)
		if r.status != 200 || r.body != want {
			t.Errorf("chunked=%v: %d %q, want %q", chunked, r.status, r.body, want)
		}
	}
	r := h.post(t, "/md5.php", "application/octet-stream", make([]byte, 8<<20+1), true)
	if r.status != 413 {
		t.Errorf("over max_spool_bytes: %d", r.status)
	}
	// A script that never reads its body: PHP drains it before it
	// answers, so the body writer finishes and the connection is reused
	// (even when the answer is read before the writer's goroutine runs
	// again, as happens under load).
	_, openBefore, _ := h.up.pool.stats()
	r = h.post(t, "/hello.php", "application/octet-stream", data, false)
	if r.status != 200 || r.body != "hello" {
		t.Errorf("unread body: %d %q", r.status, r.body)
	}
	if _, open, idle := h.up.pool.stats(); open != openBefore || idle != open {
		t.Errorf("connections: %d open, %d idle; %d before", open, idle, openBefore)
	}
}

func TestPHPRestart(t *testing.T) {
	h := startPHP(t, peertest.PHPFPMOptions{Workers: 2}, Config{MaxConns: 2})
	for i := range 4 {
		if r := h.get(t, "/pid.php"); r.status != 200 {
			t.Fatalf("before restart %d: %d", i, r.status)
		}
	}
	if err := h.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	if r := h.get(t, "/pid.php"); r.status != 502 {
		t.Errorf("php-fpm stopped: %d, want 502", r.status)
	}
	h.proc, _ = peertest.PHPFPMWith(t, h.dir, peertest.PHPFPMOptions{Workers: 2})
	for i := range 6 {
		if r := h.get(t, "/pid.php"); r.status != 200 {
			t.Errorf("after restart %d: %d %q", i, r.status, r.body)
		}
	}
	// Stopped once more while connections sit idle in the pool: they are
	// found dead and replaced.
	if err := h.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	h.proc, _ = peertest.PHPFPMWith(t, h.dir, peertest.PHPFPMOptions{Workers: 2})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if r := h.get(t, "/pid.php"); r.status != 200 {
				t.Errorf("after the second restart: %d", r.status)
			}
		})
	}
	wg.Wait()
	if n := h.watch.count(OutcomeConnect); n != 1 {
		t.Errorf("%d connect failures, want 1", n)
	}
}

func TestPHPMaxRequests(t *testing.T) {
	// Workers exit after 3 requests each: the pool must keep up.
	h := startPHP(t, peertest.PHPFPMOptions{Workers: 2, MaxRequests: 3}, Config{MaxConns: 2})
	pids := map[string]bool{}
	for i := range 20 {
		r := h.get(t, "/pid.php")
		if r.status != 200 {
			t.Fatalf("request %d: %d %q", i, r.status, r.body)
		}
		pids[r.body] = true
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 4 {
		wg.Go(func() {
			for range 10 {
				r := h.get(t, "/pid.php")
				if r.status != 200 {
					t.Errorf("concurrent: %d %q", r.status, r.body)
					return
				}
				mu.Lock()
				pids[r.body] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(pids) < 10 {
		t.Errorf("only %d workers served 60 requests; were workers recycled?", len(pids))
	}
	if h.watch.maxOpen > 2 {
		t.Errorf("max open %d", h.watch.maxOpen)
	}
}

func TestPHPTimeout(t *testing.T) {
	h := startPHP(t, peertest.PHPFPMOptions{Workers: 2}, Config{MaxConns: 2, UpstreamTimeout: 300 * time.Millisecond})
	start := time.Now()
	r := h.get(t, "/sleep.php?ms=1500")
	if r.status != 504 {
		t.Errorf("slow script: %d, want 504", r.status)
	}
	if d := time.Since(start); d > 1200*time.Millisecond {
		t.Errorf("504 after %v", d)
	}
	if r := h.get(t, "/hello.php"); r.status != 200 {
		t.Errorf("after the timeout: %d", r.status)
	}
	if h.watch.count(OutcomeTimeout) != 1 {
		t.Errorf("outcomes %v", h.watch.outcomes)
	}
}

func TestPHPPoolBound(t *testing.T) {
	// As many connections as workers: ten concurrent requests all get
	// through, none starved behind a connection no worker reads.
	h := startPHP(t, peertest.PHPFPMOptions{Workers: 2}, Config{MaxConns: 2, UpstreamTimeout: 10 * time.Second})
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 10 {
		wg.Go(func() {
			r := h.get(t, "/sleep.php?ms=50")
			if r.status != 200 {
				t.Errorf("request %d: %d %q", i, r.status, r.body)
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	if h.watch.maxOpen > 2 || h.watch.maxInUse > 2 {
		t.Errorf("max open %d, in use %d; max_conns 2", h.watch.maxOpen, h.watch.maxInUse)
	}
	// Two at a time, 50 ms each: five rounds.
	if d < 240*time.Millisecond || d > 5*time.Second {
		t.Errorf("10 requests took %v", d)
	}
	t.Logf("10 requests of 50 ms through 2 connections: %v", d)
}

func TestPHPStderr(t *testing.T) {
	h := startPHP(t, peertest.PHPFPMOptions{Workers: 1}, Config{MaxConns: 1})
	r := h.get(t, "/stderr.php?m=abc123")
	if r.status != 200 || r.body != "logged" {
		t.Fatalf("%d %q", r.status, r.body)
	}
	found := false
	for _, e := range h.logs.FilterMessage("upstream stderr").All() {
		m := e.ContextMap()
		if strings.Contains(m["line"].(string), "marker-abc123") {
			found = true
			if m["request_id"] != r.id || r.id == "" {
				t.Errorf("request_id %v, want %q", m["request_id"], r.id)
			}
		}
	}
	if !found {
		t.Errorf("error_log() line not logged: %v", h.logs.All())
	}
}

// TestPHPWorkerKilled kills the worker running a request: a POST gets a 502
// (a GET would be sent again: see TestStaleConnectionRetried) and the next
// request works.
func TestPHPWorkerKilled(t *testing.T) {
	h := startPHP(t, peertest.PHPFPMOptions{Workers: 1}, Config{MaxConns: 1})
	pid, err := strconv.Atoi(h.get(t, "/pid.php").body)
	if err != nil {
		t.Fatal(err)
	}
	flags := peertest.Dir(t)
	if err := os.Chmod(flags, 0o777); err != nil {
		t.Fatal(err)
	}
	flag := filepath.Join(flags, "running")
	done := make(chan response)
	go func() {
		env := reqEnv("POST", "/sleep.php", "QUERY_STRING", "ms=3000&flag="+flag, "CONTENT_LENGTH", "3",
			"CONTENT_TYPE", "application/x-www-form-urlencoded")
		done <- serve(t, h.up, env, strings.NewReader("a=1"))
	}()
	defer func() {
		if t.Failed() {
			for _, e := range h.logs.All() {
				t.Log(e.Message, e.ContextMap())
			}
		}
	}()
	peertest.WaitReady(t, h.proc, "the script", func() error {
		_, err := os.Stat(flag)
		return err
	})
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.status != 502 {
		t.Errorf("worker killed: %d %q", r.status, r.body)
	}
	if r := h.get(t, "/hello.php"); r.status != 200 {
		t.Errorf("after: %d", r.status)
	}
}

// forEachTransport runs test once through each transport.
func forEachTransport(t *testing.T, test func(t *testing.T, tr string)) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) { test(t, tr) })
	}
}

func benchPHP(b *testing.B, idle time.Duration) {
	root := peertest.Dir(b)
	peertest.WriteFile(b, root, "hello.php", phpScripts["hello.php"])
	_, sock := peertest.PHPFPM(b, peertest.Dir(b), 2)
	up, err := New(Config{Upstream: "unix:" + sock, Root: root, MaxConns: 2, IdleTimeout: idle}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer up.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := serve(b, up, reqEnv("GET", "/hello.php"), nil)
		if r.status != 200 {
			b.Fatal(r.status)
		}
	}
}

// BenchmarkPHPHello is a hello-world PHP page through php-fpm, connections
// kept alive.
func BenchmarkPHPHello(b *testing.B) { benchPHP(b, 0) }

// BenchmarkPHPHelloNoKeepAlive is the same with a new connection a request.
func BenchmarkPHPHelloNoKeepAlive(b *testing.B) { benchPHP(b, -1) }

// TestCapturePHPResponses writes php-fpm's raw answers (records as they
// came off the socket) to testdata, the seeds of FuzzNativeResponse. It runs
// only when GATEWAYD_CAPTURE=1: go test -run CapturePHP ./app/fcgiupstream.
func TestCapturePHPResponses(t *testing.T) {
	if os.Getenv("GATEWAYD_CAPTURE") != "1" {
		t.Skip("set GATEWAYD_CAPTURE=1 to capture php-fpm's answers into testdata")
	}
	// No FCGI_KEEP_CONN: php-fpm closes after its answer.
	h := startPHP(t, peertest.PHPFPMOptions{Workers: 1}, Config{MaxConns: 1, IdleTimeout: -1})
	for name, query := range map[string]string{"hello.php": "", "headers.php": "", "stderr.php": "m=x",
		"long.php": "", "redirect.php": ""} {
		nc, err := net.Dial("unix", h.socket)
		if err != nil {
			t.Fatal(err)
		}
		env := reqEnv("GET", "/"+name, "QUERY_STRING", query)
		environ.SetupTestingDefaults(env)
		t2 := target{script: name}
		ps := h.up.paramSet(env, t2)
		wr, err := h.up.encode(&ps, nil, -1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write(*wr.buf); err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(nc)
		nc.Close()
		if err != nil && len(raw) == 0 {
			t.Fatal(err)
		}
		peertest.WriteFile(t, "testdata", "php-"+strings.TrimSuffix(name, ".php")+".fcgi", string(raw))
	}
}
