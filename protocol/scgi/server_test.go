package scgi

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

// head is a request head: CONTENT_LENGTH, SCGI 1, then the name-value pairs.
func head(contentLength string, kv ...string) string {
	b := "CONTENT_LENGTH\x00" + contentLength + "\x00SCGI\x001\x00"
	for i := 0; i < len(kv); i += 2 {
		b += kv[i] + "\x00" + kv[i+1] + "\x00"
	}
	return itoa(len(b)) + ":" + b + ","
}

// startServer serves app on a loopback port until the test ends.
func startServer(t *testing.T, app http.Handler, configure func(*Server)) (string, *Server, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	s := &Server{Handler: &handler.Handler{App: app}, Log: zap.New(core)}
	if configure != nil {
		configure(s)
	}
	l := gwtest.Listen(t)
	gwtest.Serve(t, s, l, ErrServerClosed)
	return l.Addr().String(), s, logs
}

// roundTrip sends raw bytes and reads the answer until the server closes.
func roundTrip(t *testing.T, addr, request string) (string, error) {
	t.Helper()
	got, err := exchange(addr, request)
	if errors.Is(err, errDial) {
		t.Fatal(err)
	}
	return got, err
}

var errDial = errors.New("dialing the server")

// exchange is roundTrip for goroutines other than the test's.
func exchange(addr, request string) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errDial, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// deepThought answers the specification's question.
func deepThought(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || string(body) != "What is the answer to life?" {
			t.Errorf("body %q, %v", body, err)
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "42")
	})
}

func TestSpecExample(t *testing.T) {
	addr, _, _ := startServer(t, deepThought(t), nil)
	got, err := roundTrip(t, addr, specRequest)
	if err != nil {
		t.Fatal(err)
	}
	const want = "Status: 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\n42"
	if got != want {
		t.Errorf("answer\n%q\nwant\n%q", got, want)
	}
}

func TestResponses(t *testing.T) {
	tests := []struct {
		name string
		app  http.HandlerFunc
		req  string
		want string
	}{
		{
			name: "not found with a body",
			app: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(404)
				io.WriteString(w, "no")
			},
			req:  head("0", "REQUEST_METHOD", "GET"),
			want: "Status: 404 Not Found\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nno",
		},
		{
			name: "no content",
			app:  func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) },
			req:  head("0", "REQUEST_METHOD", "GET"),
			want: "Status: 204 No Content\r\n\r\n",
		},
		{
			name: "redirect",
			app: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "/elsewhere")
				w.WriteHeader(302)
			},
			req:  head("0", "REQUEST_METHOD", "GET"),
			want: "Status: 302 Found\r\nContent-Length: 0\r\nLocation: /elsewhere\r\n\r\n",
		},
		{
			name: "HEAD has no body",
			app: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, "hello")
			},
			req:  head("0", "REQUEST_METHOD", "HEAD"),
			want: "Status: 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == "" {
					t.Error("no method")
				}
				tt.app(w, r)
			})
			addr, _, _ := startServer(t, app, nil)
			got, err := roundTrip(t, addr, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("answer\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestMalformed checks that each bad head gets no answer, a closed
// connection and a log line naming the problem.
func TestMalformed(t *testing.T) {
	for _, tt := range headTests {
		if tt.env != nil {
			continue
		}
		if strings.HasPrefix(tt.name, "eof") {
			continue // needs the client to close; see TestTruncatedHead
		}
		t.Run(tt.name, func(t *testing.T) {
			called := false
			addr, s, logs := startServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }), nil)
			got, err := roundTrip(t, addr, tt.in)
			if err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("reading: %v", err)
			}
			if got != "" {
				t.Errorf("answered %q", got)
			}
			shutdown(t, s)
			if called {
				t.Error("the app ran")
			}
			entries := logs.FilterMessage("scgi: bad request head; closing").All()
			if len(entries) != 1 {
				t.Fatalf("log: %v", logs.All())
			}
			if msg := entries[0].ContextMap()["error"].(string); !strings.HasPrefix(msg, tt.err.Error()) {
				t.Errorf("logged error %q, want it to start with %q", msg, tt.err)
			}
		})
	}
}

func TestTruncatedHead(t *testing.T) {
	addr, s, logs := startServer(t, demo.App{}, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "70:CONTENT_LENGTH\x00")
	c.(*net.TCPConn).CloseWrite()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	c.Close()
	if len(b) != 0 || err != nil {
		t.Errorf("answered %q, %v", b, err)
	}
	shutdown(t, s)
	if n := logs.FilterMessage("scgi: bad request head; closing").Len(); n != 1 {
		t.Errorf("log: %v", logs.All())
	}
}

func TestHeaderLimit(t *testing.T) {
	addr, s, logs := startServer(t, demo.App{}, func(s *Server) { s.MaxHeaderBytes = 43 })
	got, err := roundTrip(t, addr, head("0", "REQUEST_METHOD", "GET", "E", "")) // 46 bytes
	if got != "" || err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("answered %q, %v", got, err)
	}
	got, err = roundTrip(t, addr, head("0", "REQUEST_METHOD", "GET"))
	if !strings.HasPrefix(got, "Status: 200 OK\r\n") || err != nil {
		t.Errorf("a head within the limit: %q, %v", got, err)
	}
	shutdown(t, s)
	if e := logs.FilterMessage("scgi: bad request head; closing").All(); len(e) != 1 ||
		!strings.Contains(e[0].ContextMap()["error"].(string), "header block too large") {
		t.Errorf("log: %v", logs.All())
	}
}

func TestReadTimeout(t *testing.T) {
	addr, s, logs := startServer(t, demo.App{}, func(s *Server) { s.ReadTimeout = 50 * time.Millisecond })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "24:CONTENT_LEN")
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	b, err := io.ReadAll(c)
	if len(b) != 0 || err != nil {
		t.Errorf("answered %q, %v", b, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed after %v", d)
	}
	shutdown(t, s)
	if n := logs.FilterMessage("scgi: timed out reading the request head; closing").Len(); n != 1 {
		t.Errorf("log: %v", logs.All())
	}
}

func TestHealthCheckIsQuiet(t *testing.T) {
	connState, closed := gwtest.ClosedConns(1)
	addr, _, logs := startServer(t, demo.App{}, func(s *Server) {
		s.ConnState = connState
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	<-closed
	if n := logs.FilterLevelExact(zap.WarnLevel).Len(); n != 0 {
		t.Errorf("warnings for a bare connect: %v", logs.All())
	}
	if n := logs.FilterMessage("scgi: connection closed before a request").Len(); n != 1 {
		t.Errorf("log: %v", logs.All())
	}
}

func TestBodyIsExactlyContentLength(t *testing.T) {
	got := make(chan string, 1)
	addr, _, _ := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		got <- string(b)
	}), nil)
	// The peer sends more than it announced; the app must not see it.
	if _, err := roundTrip(t, addr, head("005", "REQUEST_METHOD", "POST")+"helloEXTRA"); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if b != "hello" {
			t.Errorf("body %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the app did not run")
	}
}

func TestShortBody(t *testing.T) {
	got := make(chan error, 1)
	addr, _, _ := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
	}), nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, head("10", "REQUEST_METHOD", "POST")+"hello")
	c.(*net.TCPConn).CloseWrite()
	select {
	case err := <-got:
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("app read %v, want io.ErrUnexpectedEOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the app did not run")
	}
}

// TestUnreadBody checks that a response to a request whose body the app did
// not read arrives whole and ends with a clean close.
func TestUnreadBody(t *testing.T) {
	addr, _, _ := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strings.Repeat("x", 100000))
	}), nil)
	body := strings.Repeat("b", 100000)
	got, err := roundTrip(t, addr, head("100000", "REQUEST_METHOD", "POST")+body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n") || !strings.HasSuffix(got, strings.Repeat("x", 100000)) {
		t.Errorf("answer %.80q… (%d bytes)", got, len(got))
	}
}

// TestIncompleteResets checks that a response the app breaks off after the
// head went out ends in a connection reset, not a clean close.
func TestIncompleteResets(t *testing.T) {
	addr, s, logs := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}), nil)
	got, err := roundTrip(t, addr, head("0", "REQUEST_METHOD", "GET"))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read ended with %v, want ECONNRESET (answer %q)", err, got)
	}
	shutdown(t, s)
	if n := logs.FilterMessage("scgi: response cut short; resetting the connection").Len(); n != 1 {
		t.Errorf("log: %v", logs.All())
	}
}

func TestDemoEnvironment(t *testing.T) {
	addr, _, _ := startServer(t, demo.App{}, nil)
	env := map[string]string{
		"CONTENT_LENGTH": "0", "SCGI": "1", "REQUEST_METHOD": "GET", "REQUEST_URI": "/users/7?x=1",
		"QUERY_STRING": "x=1", "CONTENT_TYPE": "", "DOCUMENT_URI": "/users/7", "SERVER_PROTOCOL": "HTTP/1.1",
		"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "4000", "SERVER_PORT": "80", "SERVER_NAME": "localhost",
		"HTTP_HOST": "localhost", "HTTP_PROXY": "http://evil",
	}
	got, err := roundTrip(t, addr, encodeHead(env))
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(got, "\r\n\r\n")
	seen := demo.Parse(body)
	want := map[string]string{
		"SCRIPT_NAME": "", "PATH_INFO": "/users/7", "GATEWAY_INTERFACE": "CGI/1.1", "QUERY_STRING": "x=1",
		"SCGI": "1", "REQUEST_URI": "/users/7?x=1",
		"CONTENT_LENGTH": gwtest.Unset, "CONTENT_TYPE": gwtest.Unset, "HTTP_PROXY": gwtest.Unset,
	}
	gwtest.CheckEnv(t, seen, want)
}

// TestEarlyAnswer checks that an answer sent before the body was read
// reaches a client that is still sending the body, whole and at once, and
// that the connection then ends cleanly.
func TestEarlyAnswer(t *testing.T) {
	addr, _, _ := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, "too large")
	}), nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	const n = 4 << 20
	sent := make(chan error, 1)
	go func() {
		if _, err := io.WriteString(c, head(itoa(n), "REQUEST_METHOD", "PUT")); err != nil {
			sent <- err
			return
		}
		_, err := io.Copy(c, io.LimitReader(zeros{}, n))
		sent <- err
	}()
	got, err := io.ReadAll(c)
	const want = "Status: 413 Request Entity Too Large\r\nContent-Length: 9\r\nContent-Type: text/plain\r\n\r\ntoo large"
	if string(got) != want || err != nil {
		t.Errorf("answer %q, %v", got, err)
	}
	if err := <-sent; err != nil {
		t.Errorf("sending the body: %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
