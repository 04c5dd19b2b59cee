//go:build unix

package status_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/observe/metrics"
	"github.com/gatewayd/gatewayd/observe/status"
	"github.com/gatewayd/gatewayd/protocol/fastcgi"
)

// helloRequest is nginx's GET / with its stock fastcgi_params, as FastCGI
// records: BEGIN_REQUEST (responder, keep the connection), PARAMS, the
// empty PARAMS and the empty STDIN.
func helloRequest() []byte {
	params := []string{
		"QUERY_STRING", "", "REQUEST_METHOD", "GET", "CONTENT_TYPE", "", "CONTENT_LENGTH", "",
		"SCRIPT_NAME", "/", "REQUEST_URI", "/", "DOCUMENT_URI", "/", "DOCUMENT_ROOT", "/srv/www",
		"SERVER_PROTOCOL", "HTTP/1.1", "REQUEST_SCHEME", "http", "GATEWAY_INTERFACE", "CGI/1.1",
		"SERVER_SOFTWARE", "nginx/1.22.1", "REMOTE_ADDR", "127.0.0.1", "REMOTE_PORT", "51234",
		"SERVER_ADDR", "127.0.0.1", "SERVER_PORT", "8080", "SERVER_NAME", "localhost",
		"REDIRECT_STATUS", "200", "HTTP_HOST", "localhost", "HTTP_USER_AGENT", "wrk", "HTTP_ACCEPT", "*/*",
	}
	var nv []byte
	for i := 0; i < len(params); i += 2 {
		nv = append(nv, byte(len(params[i])), byte(len(params[i+1]))) // all shorter than 128
		nv = append(nv, params[i]...)
		nv = append(nv, params[i+1]...)
	}
	record := func(out []byte, typ byte, content []byte) []byte {
		pad := (8 - len(content)%8) % 8
		out = append(out, 1, typ, 0, 1, byte(len(content)>>8), byte(len(content)), byte(pad), 0)
		out = append(out, content...)
		return append(out, make([]byte, pad)...)
	}
	var req []byte
	req = record(req, 1, []byte{0, 1, 1, 0, 0, 0, 0, 0}) // FCGI_BEGIN_REQUEST, FCGI_KEEP_CONN
	req = record(req, 4, nv)                             // FCGI_PARAMS
	req = record(req, 4, nil)
	return record(req, 5, nil) // FCGI_STDIN
}

// roundTrip sends req and reads records up to FCGI_END_REQUEST.
func roundTrip(b *testing.B, conn net.Conn, br *bufio.Reader, req []byte) {
	if _, err := conn.Write(req); err != nil {
		b.Fatal(err)
	}
	var h [8]byte
	for {
		if _, err := io.ReadFull(br, h[:]); err != nil {
			b.Fatal(err)
		}
		n := int(binary.BigEndian.Uint16(h[4:6])) + int(h[6])
		if _, err := br.Discard(n); err != nil {
			b.Fatal(err)
		}
		if h[1] == 3 { // FCGI_END_REQUEST
			return
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFastCGIHello is the daemon's FastCGI hello path — one keep-alive
// connection from an nginx-like client, the core handler, metrics on —
// with the status registry's bookkeeping off and on. cpu-ns/op is the
// whole process's CPU time (client and server) per request.
func BenchmarkFastCGIHello(b *testing.B) {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.InfoFrom(r.Context()).SetRoute("/", "demo")
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "Hello, world!\n")
	})
	for _, on := range []bool{false, true} {
		name := "registry=off"
		if on {
			name = "registry=on"
		}
		b.Run(name, func(b *testing.B) {
			m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{})
			obs := m.Observer("main")
			if on {
				r := status.New(status.Options{})
				defer r.Close()
				r.SetRoutes([]status.Route{{Prefix: "/", App: "demo"}})
				obs = handler.MultiObserver(obs, r.Listener("main", "fastcgi"))
			}
			s := &fastcgi.Server{Handler: &handler.Handler{App: hello, Observer: obs}, Log: zap.NewNop()}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			go func() { _ = s.Serve(ln) }()
			defer ln.Close()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			br := bufio.NewReaderSize(conn, 16<<10)
			req := helloRequest()
			roundTrip(b, conn, br, req) // warm up
			b.ReportAllocs()
			cpu := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				roundTrip(b, conn, br, req)
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkFastCGIHelloPaired runs the two paths of BenchmarkFastCGIHello
// side by side, alternating batches of requests, so that the load of a
// shared machine falls on both alike; it reports each one's CPU per
// request and the difference in percent.
func BenchmarkFastCGIHelloPaired(b *testing.B) {
	const batch = 200
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.InfoFrom(r.Context()).SetRoute("/", "demo")
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "Hello, world!\n")
	})
	r := status.New(status.Options{})
	defer r.Close()
	r.SetRoutes([]status.Route{{Prefix: "/", App: "demo"}})
	type path struct {
		conn net.Conn
		br   *bufio.Reader
		cpu  time.Duration
	}
	var paths [2]*path
	for i := range paths {
		m := metrics.New(prometheus.NewRegistry(), metrics.BuildInfo{})
		obs := m.Observer("main")
		if i == 1 {
			obs = handler.MultiObserver(obs, r.Listener("main", "fastcgi"))
		}
		s := &fastcgi.Server{Handler: &handler.Handler{App: hello, Observer: obs}, Log: zap.NewNop()}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = s.Serve(ln) }()
		defer ln.Close()
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		paths[i] = &path{conn: conn, br: bufio.NewReaderSize(conn, 16<<10)}
	}
	req := helloRequest()
	for _, p := range paths {
		roundTrip(b, p.conn, p.br, req) // warm up
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for ; n < b.N; n += batch {
		// Each goes first every other round: whatever one batch leaves
		// behind (garbage to collect, cold caches) falls on both alike.
		order := paths
		if (n/batch)%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, p := range order {
			start := cpuTime()
			for range batch {
				roundTrip(b, p.conn, p.br, req)
			}
			p.cpu += cpuTime() - start
		}
	}
	b.StopTimer()
	off, on := float64(paths[0].cpu)/float64(n), float64(paths[1].cpu)/float64(n)
	b.ReportMetric(off, "cpu-ns/op-off")
	b.ReportMetric(on, "cpu-ns/op-on")
	b.ReportMetric(100*(on-off)/off, "%cpu-diff")
}

// BenchmarkBeginEnd is the registry's own cost per request, from several
// goroutines at once as listeners call it.
func BenchmarkBeginEnd(b *testing.B) {
	r := status.New(status.Options{})
	defer r.Close()
	l := r.Listener("main", "fastcgi")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := &handler.Request{Env: map[string]string{"REQUEST_METHOD": "GET", "PATH_INFO": "/x"}}
		res := &handler.Result{Status: 200}
		info := &handler.Info{}
		for pb.Next() {
			l.Begin(req, info)
			l.End(req, info, res)
		}
	})
}
