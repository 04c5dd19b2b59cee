package cgiscript

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

// scripts is a directory holding copies of testdata/*.cgi with mode 0755,
// made once before any test runs, so that no script file is open for
// writing while another test forks (ETXTBSY).
var scripts string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cgiscript-test-")
	if err != nil {
		panic(err)
	}
	names, _ := filepath.Glob("testdata/*.cgi")
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			panic(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(n)), b, 0o755); err != nil {
			panic(err)
		}
	}
	scripts = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// newRunner makes a Runner for a test (AllowRoot, since tests run as root;
// Root the test scripts unless set) and shuts it down when the test ends,
// failing the test if a request is still running then.
func newRunner(t testing.TB, cfg Config, log *zap.Logger) *Runner {
	t.Helper()
	cfg.AllowRoot = true
	if cfg.Root == "" && cfg.Script == "" {
		cfg.Root = scripts
	}
	if log == nil {
		log = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	rn, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rn.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v (a request was still running)", err)
		}
		noRunnerGoroutines(t)
	})
	return rn
}

// noRunnerGoroutines fails the test if a goroutine of the runner is still
// there a moment after every request ended. A goroutine's end is announced
// to no one, so it polls the stacks.
func noRunnerGoroutines(t testing.TB) {
	t.Helper()
	re := regexp.MustCompile(`cgiscript\.\(\*(proc|Runner)\)`)
	var buf []byte
	if !gwtest.Eventually(5*time.Second, func() bool {
		buf = make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		return !re.Match(buf)
	}) {
		t.Errorf("runner goroutines left behind:\n%s", buf)
	}
}

// observed returns a logger whose entries the test can read.
func observed(t testing.TB) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zap.DebugLevel)
	return zap.New(core), logs
}

// mount is app/mount's shift for one route: prefix moves from PATH_INFO
// to SCRIPT_NAME.
type mount struct {
	prefix string
	app    http.Handler
}

func (m mount) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	env, ok := environ.FromContext(r.Context())
	if !ok {
		env = environ.FromRequest(r, environ.Options{})
	}
	pi := env["PATH_INFO"]
	if !strings.HasPrefix(pi, m.prefix) || (len(pi) > len(m.prefix) && pi[len(m.prefix)] != '/') {
		http.NotFound(w, r)
		return
	}
	env = env.Clone()
	env["SCRIPT_NAME"] += m.prefix
	env["PATH_INFO"] = pi[len(m.prefix):]
	m.app.ServeHTTP(w, r.WithContext(environ.NewContext(r.Context(), env)))
}

// router dispatches to the first mount whose prefix matches.
type router []mount

func (rt router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	env, _ := environ.FromContext(r.Context())
	pi := env["PATH_INFO"]
	for _, m := range rt {
		if strings.HasPrefix(pi, m.prefix) && (len(pi) == len(m.prefix) || pi[len(m.prefix)] == '/') {
			m.ServeHTTP(w, r)
			return
		}
	}
	http.NotFound(w, r)
}

// requestEnv builds the environment the HTTP front end builds for a raw
// request from 1.2.3.4:1234 to port 80, as Go's cgi host tests do.
func requestEnv(t testing.TB, raw string) (environ.Env, io.Reader) {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("bogus request in test: %v", err)
	}
	req.RemoteAddr = "1.2.3.4:1234"
	env := environ.FromRequest(req, environ.Options{
		ServerSoftware: "go",
		LocalAddr:      &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80},
	})
	if req.ContentLength == 0 {
		return env, nil
	}
	return env, req.Body
}

// served is one request's answer through the core.
type served struct {
	resp *http.Response
	body string
	raw  []byte
	res  handler.Result
	info *handler.Info
}

// serve runs a request through the core (origin-server form) with app,
// and parses the answer.
func serve(t testing.TB, ctx context.Context, app http.Handler, env environ.Env, body io.Reader, out io.Writer) served {
	t.Helper()
	var info *handler.Info
	h := &handler.Handler{
		App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info = handler.InfoFrom(r.Context())
			app.ServeHTTP(w, r)
		}),
		OriginServer: true,
		Log:          zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	}
	var buf bytes.Buffer
	w := io.Writer(&buf)
	if out != nil {
		w = io.MultiWriter(&buf, out)
	}
	res := h.Serve(ctx, &handler.Request{Env: env, Body: body, Protocol: "test"}, w)
	s := served{raw: buf.Bytes(), res: res, info: info}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(s.raw)), &http.Request{Method: env["REQUEST_METHOD"]})
	if err != nil {
		return s
	}
	b, _ := io.ReadAll(resp.Body)
	s.resp, s.body = resp, string(b)
	return s
}

// get is serve for a raw request with a background context.
func get(t testing.TB, app http.Handler, raw string) served {
	t.Helper()
	env, body := requestEnv(t, raw)
	s := serve(t, context.Background(), app, env, body, nil)
	if s.resp == nil {
		t.Fatalf("no HTTP response in %q (result %+v)", s.raw, s.res)
	}
	return s
}

// keyValues reads a body of "key=value" lines.
func keyValues(t testing.TB, body string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimRight(body, "\r\n"), "\n") {
		line = strings.TrimRight(line, "\r")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("unexpected line %q in body:\n%s", line, body)
		}
		m[k] = v
	}
	return m
}

// httpFront serves app behind the core on a real net/http server, as the
// HTTP front end does.
func httpFront(t testing.TB, app http.Handler) *httptest.Server {
	t.Helper()
	h := &handler.Handler{App: app, Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env := environ.FromRequest(r, environ.Options{})
		res := h.ServeSink(r.Context(), &handler.Request{Env: env, HTTP: r, Protocol: "http"}, &httpSink{w: w})
		if res.Incomplete() {
			panic(http.ErrAbortHandler)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

type httpSink struct{ w http.ResponseWriter }

func (s *httpSink) WriteHead(status int, h http.Header) error {
	dst := s.w.Header()
	for k, v := range h {
		dst[k] = v
	}
	s.w.WriteHeader(status)
	return nil
}

func (s *httpSink) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *httpSink) Flush() error                { return http.NewResponseController(s.w).Flush() }
func (s *httpSink) Finish() error               { return nil }
func (s *httpSink) SetWriteDeadline(t time.Time) error {
	return http.NewResponseController(s.w).SetWriteDeadline(t)
}

// readPid waits until a script has written its pid to path: a file
// another process writes, so it polls.
func readPid(t testing.TB, path string) int {
	t.Helper()
	var b []byte
	if !gwtest.Eventually(10*time.Second, func() bool {
		b, _ = os.ReadFile(path)
		return strings.TrimSpace(string(b)) != "" && strings.HasSuffix(string(b), "\n")
	}) {
		t.Fatalf("no pid in %s after 10s", path)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %q", path, b)
	}
	return pid
}

// procStat returns a process's state letter and process group, from /proc.
func procStat(pid int) (state byte, pgrp int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if len(f) < 3 {
		return 0, 0, false
	}
	pgrp, _ = strconv.Atoi(f[2])
	return f[0][0], pgrp, true
}

// running reports whether pid is a live process; a zombie is not live,
// except that our own children must be reaped, so for those it is.
func running(pid int) bool {
	state, _, ok := procStat(pid)
	if !ok {
		return false
	}
	if state == 'Z' {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+1:])
		return len(f) > 1 && f[1] == strconv.Itoa(os.Getpid())
	}
	return true
}

// groupMembers lists the live processes in process group pgid.
func groupMembers(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if state, pg, ok := procStat(pid); ok && pg == pgid && state != 'Z' {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitGone waits until none of pids runs and process group pgid is empty.
// Processes that are not our children tell us nothing when they end, so it
// polls /proc.
func waitGone(t testing.TB, pgid int, pids ...int) {
	t.Helper()
	var alive []int
	if !gwtest.Eventually(10*time.Second, func() bool {
		alive = groupMembers(pgid)
		for _, pid := range pids {
			if running(pid) {
				alive = append(alive, pid)
			}
		}
		return len(alive) == 0
	}) {
		t.Fatalf("processes still running 10s on: %v (group %d)", alive, pgid)
	}
}

// events records what an Observer is told.
type events struct {
	mu       sync.Mutex
	list     []string
	started  chan string
	rejected chan RejectReason
}

func newEvents() *events {
	return &events{started: make(chan string, 16), rejected: make(chan RejectReason, 16)}
}

func (e *events) add(s string) {
	e.mu.Lock()
	e.list = append(e.list, s)
	e.mu.Unlock()
}

func (e *events) has(s string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.list {
		if x == s {
			return true
		}
	}
	return false
}

func (e *events) ScriptStarted(s string) {
	e.add("started " + s)
	select {
	case e.started <- s:
	default:
	}
}
func (e *events) ScriptEnded(s string, c ExitClass, _ time.Duration) {
	e.add("ended " + s + " " + string(c))
}
func (e *events) ScriptTimedOut(s string) { e.add("timeout " + s) }
func (e *events) ScriptKilled(s string)   { e.add("killed " + s) }
func (e *events) QueueWait(time.Duration) {}
func (e *events) StderrLine(s string)     { e.add("stderr " + s) }
func (e *events) Rejected(r RejectReason) {
	e.add("rejected " + string(r))
	select {
	case e.rejected <- r:
	default:
	}
}

// zeros is a body of n bytes made on the fly.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}

func atoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// waitFor waits, for at most 10s, until cond holds. It is for what the
// runner keeps to itself (a request entering the queue is observed only
// when it leaves it) and what other processes do (a child's exit, a
// reaped orphan), which no signal announces.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !gwtest.Eventually(10*time.Second, cond) {
		t.Fatalf("still waiting for %s after 10s", what)
	}
}
