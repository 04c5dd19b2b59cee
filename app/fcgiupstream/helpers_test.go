package fcgiupstream

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/event"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

// response is what a client got back.
type response struct {
	status int
	header http.Header
	body   string
	res    handler.Result
	id     string // the request id the core gave the request
	app    int    // the app status the request ended with
}

// serve runs app for one request through the core handler, as a front end
// does, with env (completed by SetupTestingDefaults) and body.
func serve(t testing.TB, app http.Handler, env environ.Env, body io.Reader) response {
	t.Helper()
	environ.SetupTestingDefaults(env)
	var id string
	var appStatus int
	h := &handler.Handler{App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := handler.InfoFrom(r.Context())
		id = info.ID
		defer func() { appStatus = info.AppStatus }()
		app.ServeHTTP(w, r)
	}), OriginServer: true}
	var out bytes.Buffer
	res := h.Serve(context.Background(), &handler.Request{Env: env, Body: body, Protocol: "test"}, &out)
	if res.Incomplete() {
		return response{res: res, id: id}
	}
	resp, err := http.ReadResponse(bufio.NewReader(&out), &http.Request{Method: env["REQUEST_METHOD"]})
	if err != nil {
		t.Fatalf("reading the response: %v\n%q", err, out.String())
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b), res: res, id: id, app: appStatus}
}

// reqEnv is the environment of a request for pathInfo under the mount
// "/php"; kv adds variables.
func reqEnv(method, pathInfo string, kv ...string) environ.Env {
	e := environ.Env{
		"REQUEST_METHOD": method,
		"SCRIPT_NAME":    "/php",
		"PATH_INFO":      pathInfo,
		"REQUEST_URI":    "/php" + pathInfo,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		e[kv[i]] = kv[i+1]
	}
	return e
}

// logs returns a logger that records entries at Info and above.
func logs() (*zap.Logger, *observer.ObservedLogs) {
	core, obs := observer.New(zapcore.InfoLevel)
	return zap.New(core), obs
}

// poolWatch is an Observer that keeps the most connections seen open and in
// use, and counts outcomes.
type poolWatch struct {
	mu       sync.Mutex
	maxOpen  int
	maxInUse int
	outcomes map[Outcome]int
}

func (p *poolWatch) Request(o Outcome, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.outcomes == nil {
		p.outcomes = map[Outcome]int{}
	}
	p.outcomes[o]++
}

func (p *poolWatch) Pool(inUse, open int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.maxOpen = max(p.maxOpen, open)
	p.maxInUse = max(p.maxInUse, inUse)
}

func (p *poolWatch) QueueWait(time.Duration)  {}
func (p *poolWatch) Rejected(event.Rejection) {}
func (p *poolWatch) Retried()                 {}
func (p *poolWatch) Health(string, int, bool) {}

func (p *poolWatch) count(o Outcome) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.outcomes[o]
}

// countingListener counts the connections the upstream side holds open.
type countingListener struct {
	net.Listener
	open, max, total atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.open.Add(1)
	l.total.Add(1)
	for {
		m := l.max.Load()
		if n <= m || l.max.CompareAndSwap(m, n) {
			break
		}
	}
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// goUpstream serves h with Go's net/http/fcgi on a unix socket in a new
// directory and returns the socket's path and the listener.
func goUpstream(t testing.TB, h http.Handler) (string, *countingListener) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "fcgi.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	cl, stop := serveFCGI(l, h)
	t.Cleanup(stop)
	return sock, cl
}

// serveFCGI serves h with Go's net/http/fcgi on l, counting the
// connections; stop closes l and returns once Serve has.
func serveFCGI(l net.Listener, h http.Handler) (cl *countingListener, stop func()) {
	cl = &countingListener{Listener: l}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fcgi.Serve(cl, h)
	}()
	return cl, func() {
		cl.Close()
		<-done
	}
}

// rawUpstream runs serve for every connection to a unix socket in a new
// directory, and returns the socket's path.
func rawUpstream(t testing.TB, serve func(c net.Conn)) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "raw.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return sock
}

// The fake upstreams of these tests write records with the one FastCGI
// codec, internal/fcgiwire.
const (
	typeStdout = fcgiwire.TypeStdout
	typeStderr = fcgiwire.TypeStderr
)

// record frames one FastCGI record with 8-byte alignment.
func record(t fcgiwire.Type, id uint16, content []byte) []byte {
	return fcgiwire.AppendRecord(nil, t, id, content)
}

// endRequest is FCGI_END_REQUEST with appStatus and protocolStatus.
func endRequest(id uint16, app uint32, proto fcgiwire.ProtocolStatus) []byte {
	return fcgiwire.AppendEndRequest(nil, id, app, proto)
}

// readFCGIRequest reads one request's records, up to the empty FCGI_STDIN,
// and returns its id and stdin.
func readFCGIRequest(r io.Reader) (uint16, []byte, error) {
	id, _, stdin, err := readFCGIParams(r)
	return id, stdin, err
}

// readFCGIParams is readFCGIRequest that also decodes FCGI_PARAMS.
func readFCGIParams(r io.Reader) (uint16, map[string]string, []byte, error) {
	var stdin, params, buf []byte
	for {
		h, content, err := fcgiwire.ReadRecord(r, buf)
		if err != nil {
			return 0, nil, nil, err
		}
		buf = content[:0]
		switch h.Type {
		case fcgiwire.TypeParams:
			params = append(params, content...)
		case fcgiwire.TypeStdin:
			if len(content) == 0 {
				m := map[string]string{}
				err := fcgiwire.DecodePairs(string(params), fcgiwire.Limits{MaxBytes: -1, MaxPairs: -1},
					func(n, v string) { m[n] = v })
				return h.ID, m, stdin, err
			}
			stdin = append(stdin, content...)
		}
	}
}
