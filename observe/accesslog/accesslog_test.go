package accesslog

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

const (
	cookie = "session=s3cr3t-cookie"
	auth   = "Basic c2VjcmV0LWF1dGg="
	query  = "token=s3cr3t-query"
)

func testEnv(method, scriptName, pathInfo string) environ.Env {
	return environ.Env{
		"REQUEST_METHOD": method, "SCRIPT_NAME": scriptName, "PATH_INFO": pathInfo,
		"QUERY_STRING": query, "REQUEST_URI": scriptName + pathInfo + "?" + query,
		"SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
		"GATEWAY_INTERFACE": "CGI/1.1", "REMOTE_ADDR": "192.0.2.7", "REMOTE_PORT": "51234",
		"HTTP_COOKIE": cookie, "HTTP_AUTHORIZATION": auth, "CONTENT_LENGTH": "5",
		"HTTP_X_API_KEY": "s3cr3t-key",
	}
}

func app(w http.ResponseWriter, r *http.Request) {
	info := handler.InfoFrom(r.Context())
	info.Route, info.App = "/app", "demo"
	b, _ := io.ReadAll(r.Body)
	switch r.URL.Path {
	case "/app/fail":
		panic("app failure")
	case "/app/cut":
		io.WriteString(w, "part")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Set-Cookie", "session=s3cr3t-set-cookie")
	w.Header().Set("Content-Type", "text/plain")
	w.Write(b)
	io.WriteString(w, " back")
}

// serve runs app for o's sake, with the body "hello".
func serve(t *testing.T, o handler.Observer, e environ.Env) handler.Result {
	t.Helper()
	_, res := gwtest.Run(t, &handler.Handler{App: http.HandlerFunc(app), Observer: o}, "fastcgi", e, "hello")
	return res
}

func TestOneLinePerRequest(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	l := New(zap.New(core).With(zap.String("listener", "main")))
	res := serve(t, l, testEnv("POST", "/app", "/x"))
	if res.Status != 200 {
		t.Fatalf("result %+v", res)
	}
	entries := logs.AllUntimed()
	if len(entries) != 1 {
		t.Fatalf("%d lines: %v", len(entries), entries)
	}
	e := entries[0]
	if e.Message != "request" || e.Level != zapcore.InfoLevel {
		t.Errorf("entry %q at %v", e.Message, e.Level)
	}
	got := e.ContextMap()
	d, ok := got["duration"].(time.Duration)
	if !ok || d <= 0 || d != res.Duration {
		t.Errorf("duration %v, result %v", got["duration"], res.Duration)
	}
	id, _ := got["request_id"].(string)
	if id == "" {
		t.Error("no request id")
	}
	delete(got, "duration")
	want := map[string]any{
		"listener": "main", "request_id": id, "protocol": "fastcgi", "method": "POST",
		"path": "/app/x", "status": int64(200), "bytes_in": int64(5), "bytes_out": int64(10),
		"remote": "192.0.2.7", "route": "/app", "app": "demo",
	}
	if len(got) != len(want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
}

// TestSecretsNeverLogged encodes the lines as the daemon does (JSON) and
// looks for every secret the request carried.
func TestSecretsNeverLogged(t *testing.T) {
	var buf bytes.Buffer
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(&buf), zap.InfoLevel))
	l := New(log)
	for _, p := range []string{"/x", "/fail", "/cut"} {
		serve(t, l, testEnv("GET", "/app", p))
	}
	e := testEnv("GET", "", "")
	serve(t, l, e)
	out := buf.String()
	if n := strings.Count(out, "\n"); n != 4 {
		t.Fatalf("%d lines:\n%s", n, out)
	}
	for _, secret := range []string{"s3cr3t", "c2VjcmV0", "token=", "Cookie", "cookie", "Authorization", "authorization", "api_key", "API_KEY"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q:\n%s", secret, out)
		}
	}
	// The line without SCRIPT_NAME and PATH_INFO falls back to REQUEST_URI's path.
	if !strings.Contains(out, `"path":"/app/fail"`) || !strings.Contains(out, `"path":""`) {
		t.Errorf("paths:\n%s", out)
	}
}

func TestErrorAndIncomplete(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	l := New(zap.New(core))
	serve(t, l, testEnv("GET", "/app", "/fail"))
	serve(t, l, testEnv("GET", "/app", "/cut"))
	entries := logs.AllUntimed()
	if len(entries) != 2 {
		t.Fatalf("%d lines", len(entries))
	}
	fail, cut := entries[0].ContextMap(), entries[1].ContextMap()
	if fail["status"] != int64(500) || !strings.Contains(fail["error"].(string), "app failure") || fail["incomplete"] != nil {
		t.Errorf("failed request: %v", fail)
	}
	if cut["status"] != int64(200) || cut["incomplete"] != true || cut["error"] != "response cut short" {
		t.Errorf("cut request: %v", cut)
	}
}

func TestDisabled(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	serve(t, New(zap.New(core)), testEnv("GET", "/app", "/x"))
	if logs.Len() != 0 {
		t.Errorf("logged at warn level: %v", logs.All())
	}
	if New(nil) != nil {
		t.Error("New(nil) is not nil")
	}
	// A nil *Logger is a valid Observer that does nothing.
	var l *Logger
	if res := serve(t, l, testEnv("GET", "/app", "/x")); res.Status != 200 {
		t.Errorf("result %+v", res)
	}
}

func TestPath(t *testing.T) {
	tests := []struct{ scriptName, pathInfo, requestURI, want string }{
		{"/app", "/x", "/ignored", "/app/x"},
		{"", "/x", "", "/x"},
		{"/index.php", "", "/index.php?a=1", "/index.php"},
		{"", "", "/from/uri?secret=1", "/from/uri"},
		{"", "", "", ""},
		{"/a b", "/c%2Fd", "", "/a b/c%2Fd"},
	}
	for _, tc := range tests {
		if got := path(tc.scriptName, tc.pathInfo, tc.requestURI); got != tc.want {
			t.Errorf("path(%q, %q, %q) = %q, want %q", tc.scriptName, tc.pathInfo, tc.requestURI, got, tc.want)
		}
	}
}

func BenchmarkEnd(b *testing.B) {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	l := New(zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zap.InfoLevel)))
	req := &handler.Request{Env: testEnv("GET", "/app", "/x"), Protocol: "fastcgi"}
	info := &handler.Info{ID: "1a2b3c4d-1", Protocol: "fastcgi", Route: "/app", App: "demo"}
	res := &handler.Result{Status: 200, BytesOut: 1234, Duration: 2 * time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		l.End(req, info, res)
	}
}
