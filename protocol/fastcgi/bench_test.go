package fastcgi

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/handler"
)

// hello is the app both benchmarks serve.
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "Hello, world!\n")
})

// countingListener counts the writes made on the connections it accepts.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: &l.writes}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

var _ net.Listener = (*countingListener)(nil)

// helloRequest is what nginx sends for GET / with its stock fastcgi_params.
func helloRequest(id uint16) []byte {
	p := map[string]string{
		"QUERY_STRING": "", "REQUEST_METHOD": "GET", "CONTENT_TYPE": "", "CONTENT_LENGTH": "",
		"SCRIPT_NAME": "/", "REQUEST_URI": "/", "DOCUMENT_URI": "/", "DOCUMENT_ROOT": "/srv/www",
		"SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "http", "GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE": "nginx/1.22.1", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "51234",
		"SERVER_ADDR": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_NAME": "localhost",
		"REDIRECT_STATUS": "200", "HTTP_HOST": "localhost", "HTTP_USER_AGENT": "wrk",
		"HTTP_ACCEPT": "*/*",
	}
	return encodeRequest(id, roleResponder, flagKeepConn, p, nil, false)
}

// roundTrip sends req and reads records up to FCGI_END_REQUEST.
func roundTrip(b *testing.B, conn net.Conn, br *bufio.Reader, req []byte, buf []byte) []byte {
	if _, err := conn.Write(req); err != nil {
		b.Fatal(err)
	}
	stdout := 0
	for {
		h, content, err := readRecord(br, buf)
		if err != nil {
			b.Fatal(err)
		}
		if cap(content) > cap(buf) {
			buf = content[:0]
		}
		switch h.Type {
		case typeStdout:
			stdout += len(content)
		case typeEndRequest:
			if stdout == 0 {
				b.Fatal("no STDOUT")
			}
			return buf
		}
	}
}

func benchServe(b *testing.B, serve func(net.Listener)) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	go serve(cl)
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 16<<10)
	req := helloRequest(1)
	buf := make([]byte, 0, 4096)
	buf = roundTrip(b, conn, br, req, buf) // warm up
	cl.writes.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = roundTrip(b, conn, br, req, buf)
	}
	b.StopTimer()
	b.ReportMetric(float64(cl.writes.Load())/float64(b.N), "writes/op")
}

// BenchmarkServeHello is one keep-alive connection from an nginx-like web
// server, request after request, through the core handler.
func BenchmarkServeHello(b *testing.B) {
	s := &Server{Handler: &handler.Handler{App: hello}, Log: zap.NewNop()}
	benchServe(b, func(l net.Listener) { s.Serve(l) })
}

// BenchmarkNetHTTPFCGIHello is the same with net/http/fcgi serving the app.
func BenchmarkNetHTTPFCGIHello(b *testing.B) {
	benchServe(b, func(l net.Listener) { fcgi.Serve(l, hello) })
}

func benchParallel(b *testing.B, serve func(net.Listener)) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go serve(ln)
	defer ln.Close()
	req := helloRequest(1)
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		br := bufio.NewReaderSize(conn, 16<<10)
		buf := make([]byte, 0, 4096)
		for pb.Next() {
			buf = roundTrip(b, conn, br, req, buf)
		}
	})
}

// BenchmarkServeHelloParallel is several keep-alive connections at once.
func BenchmarkServeHelloParallel(b *testing.B) {
	s := &Server{Handler: &handler.Handler{App: hello}, Log: zap.NewNop()}
	benchParallel(b, func(l net.Listener) { s.Serve(l) })
}

// BenchmarkNetHTTPFCGIHelloParallel is the same with net/http/fcgi.
func BenchmarkNetHTTPFCGIHelloParallel(b *testing.B) {
	benchParallel(b, func(l net.Listener) { fcgi.Serve(l, hello) })
}
