package httpfront

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

// start serves app on a loopback port and returns its address.
func start(t testing.TB, app http.Handler, configure ...func(*Server)) string {
	t.Helper()
	s := &Server{Handler: &handler.Handler{App: app, ServerSoftware: "gatewayd/test"}, ServerSoftware: "gatewayd/test"}
	for _, c := range configure {
		c(s)
	}
	l := gwtest.Listen(t)
	gwtest.Serve(t, s, l, ErrServerClosed)
	return l.Addr().String()
}

func TestDemoEnvironment(t *testing.T) {
	addr := start(t, demo.App{})
	req, _ := http.NewRequest("POST", "http://"+addr+"/a%20b/c?x=1&y=2", strings.NewReader("body"))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Proxy", "http://evil:3128")
	req.Header.Add("X-Multi", "a")
	req.Header.Add("X-Multi", "b")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		resp.Header.Get("Server") != "gatewayd/test" || resp.Header.Get("Date") == "" ||
		resp.ContentLength != int64(len(b)) {
		t.Errorf("response %d %v", resp.StatusCode, resp.Header)
	}
	if !strings.HasPrefix(string(b), "Hello world!\n\n") {
		t.Errorf("body %q", b)
	}
	env := demo.Parse(string(b))
	_, port, _ := net.SplitHostPort(addr)
	want := map[string]string{
		"REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/a b/c", "QUERY_STRING": "x=1&y=2",
		"REQUEST_URI": "/a%20b/c?x=1&y=2", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": port,
		"SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": "4",
		"CONTENT_TYPE": "text/plain", "HTTP_X_MULTI": "a, b", "GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE": "gatewayd/test", "HTTP_HOST": addr,
	}
	gwtest.CheckEnv(t, env, want)
	if env["REMOTE_PORT"] == "" {
		t.Error("REMOTE_PORT missing")
	}
	if _, ok := env["HTTP_PROXY"]; ok {
		t.Error("HTTP_PROXY reached the app")
	}
}

// rawExchange sends request on a new connection and returns everything the
// server answers until it closes the connection.
func rawExchange(t *testing.T, addr, request string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, request)
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestHTTP10ClientGets10Response(t *testing.T) {
	addr := start(t, demo.App{})
	got := rawExchange(t, addr, "GET /x HTTP/1.0\r\nHost: h\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.0 200 OK\r\n") || !strings.Contains(got, "SERVER_PROTOCOL=HTTP/1.0\n") {
		t.Errorf("answer %q", got)
	}
}

func TestHeadHasGetHeadersAndNoBody(t *testing.T) {
	addr := start(t, demo.App{})
	get := rawExchange(t, addr, "GET /same HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	head := rawExchange(t, addr, "HEAD /same HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	getHead, _, _ := strings.Cut(get, "\r\n\r\n")
	headHead, rest, _ := strings.Cut(head, "\r\n\r\n")
	strip := func(s string) string { // Dates and ports differ between the two.
		var keep []string
		for _, l := range strings.Split(s, "\r\n") {
			if !strings.HasPrefix(l, "Date:") && !strings.HasPrefix(l, "Content-Length:") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\r\n")
	}
	if strip(getHead) != strip(headHead) || rest != "" || !strings.Contains(headHead, "Content-Length: ") {
		t.Errorf("GET head %q\nHEAD %q", getHead, head)
	}
}

func TestFailureAfterHeadersTruncates(t *testing.T) {
	addr := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic("boom")
	}), func(s *Server) { s.Log = nil })
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Errorf("client read %q without an error: the truncation was silent", b)
	}
}

// TestFailureBeforeHeadersIs500: the core's 500 page, and nothing of what
// the app had set: the app's headers live in net/http's own map (the sink
// is a handler.HeaderSink), which the page must not inherit.
func TestFailureBeforeHeadersIs500(t *testing.T) {
	addr := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session=secret")
		w.Header().Set("Content-Type", "application/json")
		panic("boom")
	}))
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || string(b) != "A server error occurred.  Please contact the administrator.\n" {
		t.Errorf("%d %q", resp.StatusCode, b)
	}
	if c, ct := resp.Header.Get("Set-Cookie"), resp.Header.Get("Content-Type"); c != "" || ct != "text/plain" {
		t.Errorf("the 500 page carries the app's headers: Set-Cookie %q, Content-Type %q", c, ct)
	}
}

func TestHeaderSizeLimit(t *testing.T) {
	addr := start(t, demo.App{}, func(s *Server) { s.MaxHeaderBytes = 1024 })
	got := rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: "+strings.Repeat("a", 8192)+"\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 431 ") {
		t.Errorf("answer %.80q", got)
	}
}

func TestKeepAlive(t *testing.T) {
	addr := start(t, demo.App{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	ports := map[string]bool{}
	for i := 0; i < 3; i++ {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ports[demo.Parse(string(b))["REMOTE_PORT"]] = true
	}
	if len(ports) != 1 {
		t.Errorf("three requests came from %d connections", len(ports))
	}
}

func TestReadHeaderTimeoutClosesSlowClients(t *testing.T) {
	addr := start(t, demo.App{}, func(s *Server) { s.ReadHeaderTimeout = 100 * time.Millisecond })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\n") // and never the rest
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("connection not closed by the server: %v", err)
	}
}

func helloHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "Hello world!\n")
}

// BenchmarkHello compares one keep-alive request on loopback through the
// HTTP front end and the core with the same handler on bare net/http. The
// ratio of the two ns/op is the core's cost; docs/performance.md records it.
func BenchmarkHello(b *testing.B) {
	run := func(b *testing.B, addr string) {
		tr := &http.Transport{MaxIdleConnsPerHost: 1}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		url := "http://" + addr + "/hello"
		b.ReportAllocs()
		for b.Loop() {
			resp, err := client.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatal(resp.Status)
			}
		}
	}
	b.Run("net-http", func(b *testing.B) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(helloHandler)}
		go srv.Serve(l)
		defer srv.Close()
		run(b, l.Addr().String())
	})
	b.Run("gatewayd", func(b *testing.B) {
		run(b, start(b, http.HandlerFunc(helloHandler)))
	})
}

// BenchmarkServeHTTP measures the front end without the network: the
// environment, the core and the sink, on a recorder.
func BenchmarkServeHTTP(b *testing.B) {
	s := &Server{Handler: &handler.Handler{App: http.HandlerFunc(helloHandler)}}
	s.server()
	r, _ := http.NewRequest("GET", "http://127.0.0.1/hello", nil)
	r.RemoteAddr = "127.0.0.1:5555"
	r.RequestURI = "/hello"
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		s.ServeHTTP(w, r)
	}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
