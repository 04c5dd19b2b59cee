package handler

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/core/environ"
)

var fixedNow = func() time.Time { return time.Date(2026, 11, 21, 8, 49, 37, 0, time.UTC) }

const fixedDate = "Sat, 21 Nov 2026 08:49:37 GMT"

func env(method, proto string) environ.Env {
	return environ.Env{
		"REQUEST_METHOD": method, "SERVER_PROTOCOL": proto, "SERVER_NAME": "localhost",
		"SERVER_PORT": "80", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": "",
		"GATEWAY_INTERFACE": "CGI/1.1", "REMOTE_ADDR": "127.0.0.1",
	}
}

func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "hi")
}

// serve runs app once and returns the output and the result.
func serve(t *testing.T, h *Handler, e environ.Env, body io.Reader) (string, Result) {
	t.Helper()
	if h.Now == nil {
		h.Now = fixedNow
	}
	var out bytes.Buffer
	res := h.Serve(context.Background(), &Request{Env: e, Body: body, Protocol: "test"}, &out)
	return out.String(), res
}

func TestOutputForms(t *testing.T) {
	tests := []struct {
		name   string
		origin bool
		server string
		method string
		proto  string
		app    http.HandlerFunc
		want   string
	}{
		{"gateway", false, "gw/1", "GET", "HTTP/1.1", hello,
			"Status: 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nhi"},
		{"gateway ignores server software", false, "gw/1", "GET", "HTTP/1.0", hello,
			"Status: 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nhi"},
		{"origin 1.1 with server", true, "gw/1", "GET", "HTTP/1.1", hello,
			"HTTP/1.1 200 OK\r\nDate: " + fixedDate + "\r\nContent-Length: 2\r\nContent-Type: text/plain\r\nServer: gw/1\r\n\r\nhi"},
		{"origin 1.0 client gets 1.0", true, "gw/1", "GET", "HTTP/1.0", hello,
			"HTTP/1.0 200 OK\r\nDate: " + fixedDate + "\r\nContent-Length: 2\r\nContent-Type: text/plain\r\nServer: gw/1\r\n\r\nhi"},
		{"origin without server software", true, "", "GET", "HTTP/1.1", hello,
			"HTTP/1.1 200 OK\r\nDate: " + fixedDate + "\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nhi"},
		{"origin HTTP/2 client answered as 1.1", true, "", "GET", "HTTP/2.0", hello,
			"HTTP/1.1 200 OK\r\nDate: " + fixedDate + "\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nhi"},
		{"origin HTTP/0.9 gets the body alone", true, "gw/1", "GET", "HTTP/0.9", hello, "hi"},
		{"app's own Date and Server win", true, "gw/1", "GET", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Date", "yesterday")
			w.Header().Set("Server", "app/2")
			hello(w, r)
		}, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\nDate: yesterday\r\nServer: app/2\r\n\r\nhi"},
		{"status and reason", false, "", "GET", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "tea")
		}, "Status: 418 I'm a teapot\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\ntea"},
		{"unknown status", false, "", "GET", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(599)
		}, "Status: 599 status code 599\r\nContent-Length: 0\r\nContent-Type: text/plain\r\n\r\n"},
		{"204 gets no Content-Length", false, "", "GET", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}, "Status: 204 No Content\r\n\r\n"},
		{"204 drops the app's Content-Length and body", false, "", "GET", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusNoContent)
			if _, err := io.WriteString(w, "x"); err != http.ErrBodyNotAllowed {
				panic("write on 204 did not fail")
			}
		}, "Status: 204 No Content\r\n\r\n"},
		{"304 gets no Content-Length", true, "", "GET", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
		}, "HTTP/1.1 304 Not Modified\r\nDate: " + fixedDate + "\r\nEtag: \"x\"\r\n\r\n"},
		{"HEAD gets GET's headers and no body", false, "", "HEAD", "HTTP/1.1", hello,
			"Status: 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\n"},
		{"HEAD with nothing written has no Content-Length", false, "", "HEAD", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
		}, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"},
		{"app's Content-Length kept", false, "", "GET", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		}, "Status: 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"},
		{"empty body gets Content-Length 0", false, "", "GET", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
		}, "Status: 200 OK\r\nContent-Length: 0\r\nContent-Type: text/plain\r\n\r\n"},
		{"flush means no Content-Length", false, "", "GET", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			io.WriteString(w, "b")
		}, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nab"},
		{"origin flush closes the connection", true, "", "GET", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
		}, "HTTP/1.1 200 OK\r\nConnection: close\r\nDate: " + fixedDate + "\r\nContent-Type: text/plain\r\n\r\na"},
		{"content type sniffed", false, "", "GET", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html><body>x</body></html>")
		}, "Status: 200 OK\r\nContent-Length: 27\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>x</body></html>"},
		{"hop-by-hop and Status dropped", false, "", "GET", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			w.Header().Set("Transfer-Encoding", "chunked")
			w.Header().Set("Keep-Alive", "timeout=5")
			w.Header().Set("Status", "404 Not Found")
			hello(w, r)
		}, "Status: 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nhi"},
		{"headers after WriteHeader are ignored", false, "", "GET", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(201)
			w.Header().Set("X-Late", "1")
			io.WriteString(w, "ok")
		}, "Status: 201 Created\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"},
		{"repeated header values", false, "", "GET", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Add("Set-Cookie", "b=2")
			hello(w, r)
		}, "Status: 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhi"},
		{"redirect", false, "", "GET", "HTTP/1.1", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "/there")
			w.WriteHeader(http.StatusFound)
		}, "Status: 302 Found\r\nContent-Length: 0\r\nLocation: /there\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Handler{App: tt.app, OriginServer: tt.origin, ServerSoftware: tt.server}
			got, res := serve(t, h, env(tt.method, tt.proto), nil)
			if got != tt.want {
				t.Errorf("output\n got: %q\nwant: %q", got, tt.want)
			}
			if res.Err != nil || !res.HeadSent {
				t.Errorf("result %+v", res)
			}
		})
	}
}

func TestLargeBodyStreamsWithoutContentLength(t *testing.T) {
	body := strings.Repeat("x", DefaultBufferSize+1)
	app := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body[:10])
		io.WriteString(w, body[10:])
	}
	for _, origin := range []bool{false, true} {
		h := &Handler{App: http.HandlerFunc(app), OriginServer: origin}
		got, res := serve(t, h, env("GET", "HTTP/1.1"), nil)
		head, rest, _ := strings.Cut(got, "\r\n\r\n")
		if strings.Contains(head, "Content-Length") || rest != body {
			t.Errorf("origin=%v: head %q, body %d bytes", origin, head, len(rest))
		}
		if origin != strings.Contains(head, "Connection: close") {
			t.Errorf("origin=%v: head %q", origin, head)
		}
		if res.BytesOut != int64(len(body)) {
			t.Errorf("BytesOut %d", res.BytesOut)
		}
		// HEAD answers with the headers GET would get.
		h = &Handler{App: http.HandlerFunc(app), OriginServer: origin}
		got, _ = serve(t, h, env("HEAD", "HTTP/1.1"), nil)
		headOnly, rest, _ := strings.Cut(got, "\r\n\r\n")
		if headOnly != head || rest != "" {
			t.Errorf("origin=%v: HEAD head %q body %q; GET head %q", origin, headOnly, rest, head)
		}
	}
}

const page500 = "Status: 500 Internal Server Error\r\nContent-Length: 60\r\nContent-Type: text/plain\r\n\r\n" +
	"A server error occurred.  Please contact the administrator.\n"

func TestPanicBeforeHeadersGives500(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	app := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Secret", "leak")
		io.WriteString(w, "partial")
		panic("secret diagnostic")
	}
	var errs bytes.Buffer
	h := &Handler{App: http.HandlerFunc(app), Log: zap.New(core), Now: fixedNow}
	var out bytes.Buffer
	res := h.Serve(context.Background(), &Request{Env: env("GET", "HTTP/1.1"), Errors: &errs}, &out)
	if out.String() != page500 {
		t.Errorf("output %q", out.String())
	}
	if strings.Contains(out.String(), "secret") {
		t.Error("diagnostics leaked to the client")
	}
	if res.Status != 500 || res.Err == nil || res.Incomplete() {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(errs.String(), "secret diagnostic") || !strings.Contains(errs.String(), "goroutine") {
		t.Errorf("error stream lacks the stack: %q", errs.String())
	}
	if logs.FilterMessage("app panicked").Len() != 1 {
		t.Errorf("no log line for the panic: %v", logs.All())
	}
}

func TestPanicAfterHeadersIsIncomplete(t *testing.T) {
	app := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic("boom")
	}
	got, res := serve(t, &Handler{App: http.HandlerFunc(app)}, env("GET", "HTTP/1.1"), nil)
	if got != "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\npartial" {
		t.Errorf("output %q", got)
	}
	if !res.Incomplete() {
		t.Errorf("result %+v: must tell the front end to cut the response", res)
	}
}

func TestAbortHandlerIsIncompleteWithoutStack(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	app := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	_, res := serve(t, &Handler{App: http.HandlerFunc(app), Log: zap.New(core)}, env("GET", "HTTP/1.1"), nil)
	if !res.Incomplete() || !errors.Is(res.Err, http.ErrAbortHandler) {
		t.Errorf("result %+v", res)
	}
	if logs.Len() != 0 {
		t.Errorf("logged %v", logs.All())
	}
}

func TestHeaderInjectionRefused(t *testing.T) {
	for name, set := range map[string]func(http.Header){
		"CRLF in value": func(h http.Header) { h["X-A"] = []string{"a\r\nSet-Cookie: evil=1"} },
		"LF in value":   func(h http.Header) { h["X-A"] = []string{"a\nb"} },
		"NUL in value":  func(h http.Header) { h["X-A"] = []string{"a\x00b"} },
		"CR in name":    func(h http.Header) { h["X-A\r\nEvil"] = []string{"1"} },
		"space in name": func(h http.Header) { h["X A"] = []string{"1"} },
	} {
		t.Run(name, func(t *testing.T) {
			app := func(w http.ResponseWriter, r *http.Request) {
				set(w.Header())
				hello(w, r)
			}
			got, res := serve(t, &Handler{App: http.HandlerFunc(app)}, env("GET", "HTTP/1.1"), nil)
			if got != page500 {
				t.Errorf("output %q", got)
			}
			if !errors.Is(res.Err, ErrHeaderInjection) {
				t.Errorf("err %v", res.Err)
			}
		})
	}
}

func TestHopByHopDropLogged(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	app := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Upgrade", "websocket")
		hello(w, r)
	}
	serve(t, &Handler{App: http.HandlerFunc(app), Log: zap.New(core)}, env("GET", "HTTP/1.1"), nil)
	entries := logs.FilterField(zap.String("header", "Upgrade")).All()
	if len(entries) != 1 {
		t.Fatalf("log lines %v", logs.All())
	}
}

func TestContentLengthMismatch(t *testing.T) {
	short := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "abc")
	}
	_, res := serve(t, &Handler{App: http.HandlerFunc(short)}, env("GET", "HTTP/1.1"), nil)
	if !errors.Is(res.Err, ErrShortBody) || !res.Incomplete() {
		t.Errorf("short body: %+v", res)
	}

	var writeErr error
	long := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "2")
		_, writeErr = io.WriteString(w, "abc")
		io.WriteString(w, "ab")
	}
	got, res := serve(t, &Handler{App: http.HandlerFunc(long)}, env("GET", "HTTP/1.1"), nil)
	if writeErr != http.ErrContentLength || res.Err != nil || !strings.HasSuffix(got, "\r\n\r\nab") {
		t.Errorf("long write: err %v, result %+v, output %q", writeErr, res, got)
	}
}

func TestHTTPProxyNeverReachesTheApp(t *testing.T) {
	var sawEnv, sawHeader bool
	app := func(w http.ResponseWriter, r *http.Request) {
		e, _ := environ.FromContext(r.Context())
		_, sawEnv = e["HTTP_PROXY"]
		sawHeader = r.Header.Get("Proxy") != ""
		hello(w, r)
	}
	e := env("GET", "HTTP/1.1")
	e["HTTP_PROXY"] = "http://evil:3128"
	serve(t, &Handler{App: http.HandlerFunc(app)}, e, nil)
	if sawEnv || sawHeader {
		t.Errorf("HTTP_PROXY visible: env %v header %v", sawEnv, sawHeader)
	}
}

func TestRequestBodyAndInfo(t *testing.T) {
	var got string
	var info *Info
	app := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		info = InfoFrom(r.Context())
		info.AppStatus = 3
		hello(w, r)
	}
	e := env("POST", "HTTP/1.1")
	e["CONTENT_LENGTH"] = "5"
	_, res := serve(t, &Handler{App: http.HandlerFunc(app)}, e, strings.NewReader("hello"))
	if got != "hello" || res.BytesIn != 5 {
		t.Errorf("body %q, BytesIn %d", got, res.BytesIn)
	}
	if info == nil || info.ID == "" || info.Protocol != "test" || info.AppStatus != 3 {
		t.Errorf("info %+v", info)
	}
}

// TestBadEnvironmentGives400: an environment that builds no request is the
// peer's fault (a web server's params, a CGI host's variables): 400, not the
// 500 page, and no error in the result, so that it does not count as
// gatewayd failing.
func TestBadEnvironmentGives400(t *testing.T) {
	for _, cl := range []string{"lots", "-1", "+5", "1e3", " 5"} {
		e := env("GET", "HTTP/1.1")
		e["CONTENT_LENGTH"] = cl
		got, res := serve(t, &Handler{App: http.HandlerFunc(hello)}, e, nil)
		want := "Status: 400 Bad Request\r\nContent-Length: 12\r\nContent-Type: text/plain\r\n\r\nBad Request\n"
		if got != want || res.Err != nil || res.Status != 400 {
			t.Errorf("CONTENT_LENGTH %q: output %q result %+v", cl, got, res)
		}
	}
}

// failingWriter fails every write: a client that went away.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestClientGoneCancelsTheApp(t *testing.T) {
	done := make(chan error, 1)
	app := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for i := 0; i < 1000; i++ {
			if _, err := w.Write(make([]byte, 4096)); err != nil {
				break
			}
		}
		done <- r.Context().Err()
	}
	h := &Handler{App: http.HandlerFunc(app)}
	res := h.Serve(context.Background(), &Request{Env: env("GET", "HTTP/1.1")}, failingWriter{})
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("app's context: %v", err)
	}
	if res.Err == nil {
		t.Errorf("result %+v", res)
	}
}

func TestWriteAfterReturnFails(t *testing.T) {
	var kept http.ResponseWriter
	app := func(w http.ResponseWriter, r *http.Request) {
		kept = w
		hello(w, r)
	}
	serve(t, &Handler{App: http.HandlerFunc(app)}, env("GET", "HTTP/1.1"), nil)
	if _, err := kept.Write([]byte("late")); err == nil {
		t.Error("write after return accepted")
	}
}

type recordingObserver struct {
	begun, ended int
	res          Result
	info         *Info
}

func (o *recordingObserver) Begin(*Request, *Info) { o.begun++ }
func (o *recordingObserver) End(_ *Request, i *Info, r *Result) {
	o.ended++
	o.res, o.info = *r, i
}

func TestObserverSeesEveryRequest(t *testing.T) {
	o := &recordingObserver{}
	h := &Handler{App: http.HandlerFunc(hello), Observer: o}
	serve(t, h, env("GET", "HTTP/1.1"), nil)
	serve(t, h, env("GET", "HTTP/1.1"), nil)
	if o.begun != 2 || o.ended != 2 || o.res.Status != 200 || o.res.BytesOut != 2 || o.info.Protocol != "test" {
		t.Errorf("observer %+v", o)
	}
}

func BenchmarkServeHello(b *testing.B) {
	for _, origin := range []bool{false, true} {
		name := "gateway"
		if origin {
			name = "origin"
		}
		b.Run(name, func(b *testing.B) {
			h := &Handler{App: http.HandlerFunc(hello), OriginServer: origin, ServerSoftware: "gatewayd"}
			e := env("GET", "HTTP/1.1")
			b.ReportAllocs()
			for b.Loop() {
				h.Serve(context.Background(), &Request{Env: e}, io.Discard)
			}
		})
	}
}
