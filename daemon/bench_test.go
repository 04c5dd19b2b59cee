//go:build unix

package daemon

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
	"github.com/gatewayd/gatewayd/logger"
	"github.com/gatewayd/gatewayd/protocol/fastcgi"
	httpfe "github.com/gatewayd/gatewayd/protocol/httpfront"
	"github.com/gatewayd/gatewayd/protocol/scgi"
)

// The benchmarks below send one request at a time through each front end
// twice: bare (the protocol server and the core, as bench/cmd/hello serves)
// and on the daemon path (what gatewayd serve and gatewayd.ServeWith run:
// metrics observer, status registry, switchable access log, swappable app),
// so that the cost of the daemon's wiring is the difference of two numbers
// printed side by side. Both sides serve helloApp over loopback TCP. The
// keep-alive clients allocate one object per request (HTTP's request
// string); the SCGI and connection-per-request FastCGI clients dial, about
// 15 allocations of theirs. The same client serves every path, so the
// differences in B/op and allocs/op are the servers'.

// helloBody is what helloApp answers, as bench/internal/hello does.
const helloBody = "Hello world!\n"

var helloApp = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", "13")
	_, _ = io.WriteString(w, helloBody)
})

// benchServer is a front end serving on a loopback address.
type benchServer struct {
	addr string
	stop func()
}

// bareServer serves helloApp through protocol's front end alone.
func bareServer(b *testing.B, protocol string) benchServer {
	b.Helper()
	protocol = strings.TrimSuffix(protocol, "-close")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	h := &handler.Handler{App: helloApp, Log: zap.NewNop()}
	var fe frontEnd
	switch protocol {
	case "fastcgi":
		fe = &fastcgi.Server{Handler: h, Log: zap.NewNop()}
	case "scgi":
		fe = &scgi.Server{Handler: h, Log: zap.NewNop()}
	case "http":
		fe = &httpfe.Server{Handler: h, Log: zap.NewNop()}
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = fe.Serve(l) }()
	return benchServer{addr: l.Addr().String(), stop: func() {
		_ = fe.Shutdown(context.Background())
		_ = l.Close()
		<-done
	}}
}

// peerServer serves helloApp through Go's standard library: net/http/fcgi
// or net/http, the peers the bench harness compares with.
func peerServer(b *testing.B, protocol string) benchServer {
	b.Helper()
	protocol = strings.TrimSuffix(protocol, "-close")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	var stop func()
	switch protocol {
	case "fastcgi":
		go func() { defer close(done); _ = fcgi.Serve(l, helloApp) }()
		stop = func() { _ = l.Close() }
	case "http":
		srv := &http.Server{Handler: helloApp}
		go func() { defer close(done); _ = srv.Serve(l) }()
		stop = func() { _ = srv.Close() }
	default:
		b.Skip("no Go peer for " + protocol)
	}
	return benchServer{addr: l.Addr().String(), stop: func() { stop(); <-done }}
}

// daemonServer serves helloApp as gatewayd.ServeWith does: a Daemon with
// the app as Options.App, metrics on, the access log off.
func daemonServer(b *testing.B, protocol string) benchServer {
	b.Helper()
	protocol = strings.TrimSuffix(protocol, "-close")
	cfg, err := config.Parse(fmt.Sprintf("listeners:\n  - {protocol: %s, address: \"127.0.0.1:0\"}\nmetrics: {address: \"127.0.0.1:0\"}\nlog: {access: false}\n", protocol))
	if err != nil {
		b.Fatal(err)
	}
	// The logger ServeWith makes from the config (JSON, level warn), so
	// that what logging costs when nothing is logged counts too.
	cfg.Log.Level = "warn"
	log, _, err := logger.New(cfg.Log, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	d, err := New(cfg, Options{Log: log, App: helloApp})
	if err != nil {
		b.Fatal(err)
	}
	if d.metrics == nil {
		b.Fatal("metrics are off")
	}
	d.Start()
	return benchServer{addr: d.Addrs()[0].String(), stop: func() { _ = d.Shutdown(context.Background()) }}
}

// fastcgiHello is what nginx sends for GET / with its stock fastcgi_params,
// with fastcgi_keep_conn on when keep.
func fastcgiHello(keep bool) []byte {
	var flags uint8
	if keep {
		flags = fcgiwire.FlagKeepConn
	}
	req := fcgiwire.AppendBeginRequest(nil, 1, fcgiwire.RoleResponder, flags)
	req, mark := fcgiwire.OpenStream(req)
	for _, kv := range nginxParams {
		req = fcgiwire.AppendPair(req, kv[0], kv[1])
	}
	req = fcgiwire.CloseStream(req, mark, fcgiwire.TypeParams, 1)
	req = fcgiwire.AppendRecord(req, fcgiwire.TypeParams, 1, nil)
	return fcgiwire.AppendRecord(req, fcgiwire.TypeStdin, 1, nil)
}

// scgiHello is the same request as nginx's scgi_params send it.
func scgiHello() []byte {
	var head []byte
	head = append(head, "CONTENT_LENGTH\x000\x00SCGI\x001\x00"...)
	for _, kv := range nginxParams {
		if kv[0] != "CONTENT_LENGTH" {
			head = append(append(append(append(head, kv[0]...), 0), kv[1]...), 0)
		}
	}
	return append(append(strconv.AppendInt(nil, int64(len(head)), 10), ':'), append(head, ',')...)
}

var nginxParams = [][2]string{
	{"QUERY_STRING", ""}, {"REQUEST_METHOD", "GET"}, {"CONTENT_TYPE", ""}, {"CONTENT_LENGTH", ""},
	{"SCRIPT_NAME", "/"}, {"REQUEST_URI", "/"}, {"DOCUMENT_URI", "/"}, {"DOCUMENT_ROOT", "/srv/www"},
	{"SERVER_PROTOCOL", "HTTP/1.1"}, {"REQUEST_SCHEME", "http"}, {"GATEWAY_INTERFACE", "CGI/1.1"},
	{"SERVER_SOFTWARE", "nginx/1.22.1"}, {"REMOTE_ADDR", "127.0.0.1"}, {"REMOTE_PORT", "51234"},
	{"SERVER_ADDR", "127.0.0.1"}, {"SERVER_PORT", "8080"}, {"SERVER_NAME", "localhost"},
	{"REDIRECT_STATUS", "200"}, {"HTTP_HOST", "localhost"}, {"HTTP_USER_AGENT", "wrk"}, {"HTTP_ACCEPT", "*/*"},
}

const httpHello = "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"

// client sends one request and checks the answer carries the hello body.
type client interface {
	do(b *testing.B)
	close()
}

// fastcgiClient is one keep-alive connection, as nginx's upstream pool.
type fastcgiClient struct {
	conn net.Conn
	r    *fcgiwire.Reader
	req  []byte
}

func (c *fastcgiClient) do(b *testing.B) {
	if _, err := c.conn.Write(c.req); err != nil {
		b.Fatal(err)
	}
	found := false
	for {
		h, content, err := c.r.Next()
		if err != nil {
			b.Fatal(err)
		}
		switch h.Type {
		case fcgiwire.TypeStdout:
			found = found || bytes.HasSuffix(content, []byte(helloBody))
		case fcgiwire.TypeEndRequest:
			if !found {
				b.Fatal("no hello body in STDOUT")
			}
			return
		}
	}
}

func (c *fastcgiClient) close() { _ = c.conn.Close() }

// fastcgiOnceClient opens a connection per request, as nginx does without
// fastcgi_keep_conn, or beyond its upstream keepalive pool.
type fastcgiOnceClient struct {
	addr string
	req  []byte
	br   *bufio.Reader
}

func (c *fastcgiOnceClient) do(b *testing.B) {
	conn, err := net.Dial("tcp", c.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	c.br.Reset(conn)
	(&fastcgiClient{conn: conn, r: fcgiwire.NewReader(c.br), req: c.req}).do(b)
}

func (c *fastcgiOnceClient) close() {}

// scgiClient opens a connection per request, as SCGI requires.
type scgiClient struct {
	addr string
	req  []byte
	buf  []byte
}

func (c *scgiClient) do(b *testing.B) {
	conn, err := net.Dial("tcp", c.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(c.req); err != nil {
		b.Fatal(err)
	}
	n := 0
	for {
		m, err := conn.Read(c.buf[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if !bytes.HasSuffix(c.buf[:n], []byte(helloBody)) {
		b.Fatalf("answer %q", c.buf[:n])
	}
}

func (c *scgiClient) close() {}

// httpClient is one keep-alive connection reading Content-Length bodies.
type httpClient struct {
	conn net.Conn
	br   *bufio.Reader
	body []byte
}

func (c *httpClient) do(b *testing.B) {
	if _, err := io.WriteString(c.conn, httpHello); err != nil {
		b.Fatal(err)
	}
	n := -1
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			b.Fatal(err)
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if n != len(helloBody) {
		b.Fatalf("Content-Length %d", n)
	}
	if _, err := io.ReadFull(c.br, c.body[:n]); err != nil || string(c.body[:n]) != helloBody {
		b.Fatalf("body %q: %v", c.body[:n], err)
	}
}

func (c *httpClient) close() { _ = c.conn.Close() }

func newClient(b *testing.B, protocol, addr string) client {
	b.Helper()
	switch protocol {
	case "scgi":
		return &scgiClient{addr: addr, req: scgiHello(), buf: make([]byte, 4096)}
	case "fastcgi-close":
		return &fastcgiOnceClient{addr: addr, req: fastcgiHello(false), br: bufio.NewReader(nil)}
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	if protocol == "fastcgi" {
		return &fastcgiClient{conn: conn, r: fcgiwire.NewReader(bufio.NewReader(conn)), req: fastcgiHello(true)}
	}
	return &httpClient{conn: conn, br: bufio.NewReader(conn), body: make([]byte, 64)}
}

// paths are the servers each benchmark compares: Go's own (net/http/fcgi,
// net/http), the bare front end, and the daemon path.
var paths = []struct {
	name  string
	start func(*testing.B, string) benchServer
}{{"peer", peerServer}, {"bare", bareServer}, {"daemon", daemonServer}}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHello is one request at a time through each front end: Go's
// peer, bare, and on the daemon path. cpu-ns/op is the whole process's CPU
// (the client's share is the same for all three), steadier than ns/op on a
// shared machine; BenchmarkHelloPaired compares the three in one run.
func BenchmarkHello(b *testing.B) {
	for _, protocol := range []string{"fastcgi", "fastcgi-close", "scgi", "http"} {
		for _, path := range paths {
			b.Run(protocol+"/"+path.name, func(b *testing.B) {
				s := path.start(b, protocol)
				defer s.stop()
				c := newClient(b, protocol, s.addr)
				defer c.close()
				c.do(b) // warm up
				b.ReportAllocs()
				cpu := cpuTime()
				for b.Loop() {
					c.do(b)
				}
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// BenchmarkHelloPaired runs the paths of BenchmarkHello in alternating
// batches, each going first in turn, so that a shared machine's load falls
// on all alike, and reports each one's CPU per request.
func BenchmarkHelloPaired(b *testing.B) {
	const batch = 100
	for _, protocol := range []string{"fastcgi", "fastcgi-close", "scgi", "http"} {
		b.Run(protocol, func(b *testing.B) {
			type side struct {
				name string
				c    client
				cpu  time.Duration
			}
			var sides []*side
			for _, path := range paths {
				if path.name == "peer" && protocol == "scgi" {
					continue
				}
				s := path.start(b, protocol)
				defer s.stop()
				c := newClient(b, protocol, s.addr)
				defer c.close()
				c.do(b)
				sides = append(sides, &side{name: path.name, c: c})
			}
			n := 0
			for ; n < b.N; n += batch {
				k := (n / batch) % len(sides)
				for i := range sides {
					sd := sides[(i+k)%len(sides)]
					start := cpuTime()
					for range batch {
						sd.c.do(b)
					}
					sd.cpu += cpuTime() - start
				}
			}
			for _, sd := range sides {
				b.ReportMetric(float64(sd.cpu)/float64(n), "cpu-ns/op-"+sd.name)
			}
		})
	}
}

// BenchmarkHelloConns is the same with 32 and with 256 connections at once,
// each sending its next request when the last is answered: whether the
// CPU a request takes grows with the connections (a lock or counter all
// share, goroutines per connection for the garbage collector to scan)
// shows as cpu-ns/op rising from conns=32 to conns=256. net/http/fcgi's
// stays flat.
func BenchmarkHelloConns(b *testing.B) {
	for _, protocol := range []string{"fastcgi", "fastcgi-close", "http"} {
		for _, conns := range []int{32, 256} {
			for _, path := range paths {
				b.Run(fmt.Sprintf("%s/conns=%d/%s", protocol, conns, path.name), func(b *testing.B) {
					s := path.start(b, protocol)
					defer s.stop()
					b.ReportAllocs()
					b.SetParallelism((conns + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
					cpu := cpuTime()
					b.RunParallel(func(pb *testing.PB) {
						c := newClient(b, protocol, s.addr)
						defer c.close()
						for pb.Next() {
							c.do(b)
						}
					})
					b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
				})
			}
		}
	}
}

// TestDaemonPathAllocatesNoMore holds the daemon's wiring (metrics
// observer, status registry, switchable access log, swappable app) to no
// allocation per request beyond the bare front end's: a metric looked up by
// its labels per request, or an observer that moves the Result to the
// heap, shows here. Allocation counts, not times: they do not depend on
// the machine's load.
func TestDaemonPathAllocatesNoMore(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("allocation counts differ under the race detector")
	}
	for _, protocol := range []string{"fastcgi", "http"} {
		allocs := map[string]int64{}
		for _, path := range paths[1:] {
			res := testing.Benchmark(func(b *testing.B) {
				s := path.start(b, protocol)
				defer s.stop()
				c := newClient(b, protocol, s.addr)
				defer c.close()
				c.do(b)
				b.ReportAllocs()
				for b.Loop() {
					c.do(b)
				}
			})
			if res.N == 0 {
				t.Fatalf("%s/%s: the benchmark failed", protocol, path.name)
			}
			allocs[path.name] = res.AllocsPerOp()
		}
		if allocs["daemon"] > allocs["bare"] {
			t.Errorf("%s: %d allocations per request on the daemon path, %d bare", protocol, allocs["daemon"], allocs["bare"])
		}
		t.Logf("%s: %v allocations per request", protocol, allocs)
	}
}
