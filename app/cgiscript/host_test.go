package cgiscript

// The scenarios of Go's net/http/cgi host tests (host_test.go), run
// against the Runner with testdata/test.cgi.

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

func TestCGIBasicGet(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	s := get(t, rn, "GET /test.cgi?foo=bar&a=b HTTP/1.0\nHost: example.com:80\n\n")
	m := keyValues(t, s.body)
	gwtest.CheckEnv(t, m, map[string]string{
		"test":                  "Hello CGI",
		"param-a":               "b",
		"param-foo":             "bar",
		"env-GATEWAY_INTERFACE": "CGI/1.1",
		"env-HTTP_HOST":         "example.com:80",
		"env-PATH_INFO":         "",
		"env-QUERY_STRING":      "foo=bar&a=b",
		"env-REMOTE_ADDR":       "1.2.3.4",
		"env-REMOTE_HOST":       "1.2.3.4",
		"env-REMOTE_PORT":       "1234",
		"env-REQUEST_METHOD":    "GET",
		"env-REQUEST_URI":       "/test.cgi?foo=bar&a=b",
		"env-SCRIPT_FILENAME":   filepath.Join(scripts, "test.cgi"),
		"env-SCRIPT_NAME":       "/test.cgi",
		"env-SERVER_NAME":       "example.com",
		"env-SERVER_PORT":       "80",
		"env-SERVER_PROTOCOL":   "HTTP/1.0",
		"env-SERVER_SOFTWARE":   "go",
		"env-DOCUMENT_ROOT":     scripts,
		"cwd":                   scripts,
	})
	// Nothing else: the daemon's environment stays out but for PATH.
	for k := range m {
		name, ok := strings.CutPrefix(k, "env-")
		if !ok {
			continue
		}
		if !forwarded(name) && !slices.Contains([]string{"GATEWAY_INTERFACE", "SCRIPT_NAME",
			"SCRIPT_FILENAME", "PATH_INFO", "DOCUMENT_ROOT", "PATH", "QUERY_STRING", "REQUEST_ID"}, name) {
			t.Errorf("unexpected variable %s in the script's environment", name)
		}
	}
	if _, ok := m["env-PATH_TRANSLATED"]; ok {
		t.Errorf("PATH_TRANSLATED set without PATH_INFO")
	}
	if m["env-REQUEST_ID"] != s.info.ID || s.info.ID == "" {
		t.Errorf("REQUEST_ID %q, the request's id %q", m["env-REQUEST_ID"], s.info.ID)
	}
	if got := s.resp.Header.Get("Content-Type"); got != "text/html" {
		t.Errorf("Content-Type %q, want text/html", got)
	}
	if got := s.resp.Header.Get("X-Test-Header"); got != "X-Test-Value" {
		t.Errorf("X-Test-Header %q", got)
	}
	if s.resp.StatusCode != 200 || s.res.Err != nil {
		t.Errorf("status %d, result %v", s.resp.StatusCode, s.res.Err)
	}
}

func TestCGIEnvIPv6(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	env, _ := requestEnv(t, "GET /test.cgi?foo=bar&a=b HTTP/1.0\nHost: example.com\n\n")
	env["REMOTE_ADDR"], env["REMOTE_PORT"] = "2000::3000", "12345"
	s := serve(t, context.Background(), rn, env, nil, nil)
	gwtest.CheckEnv(t, keyValues(t, s.body), map[string]string{
		"env-HTTP_HOST":   "example.com",
		"env-REMOTE_ADDR": "2000::3000",
		"env-REMOTE_HOST": "2000::3000",
		"env-REMOTE_PORT": "12345",
	})
}

func TestPathInfo(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	s := get(t, rn, "GET /test.cgi/extrapath?a=b HTTP/1.0\nHost: example.com\n\n")
	gwtest.CheckEnv(t, keyValues(t, s.body), map[string]string{
		"param-a":             "b",
		"env-PATH_INFO":       "/extrapath",
		"env-PATH_TRANSLATED": scripts + "/extrapath",
		"env-QUERY_STRING":    "a=b",
		"env-REQUEST_URI":     "/test.cgi/extrapath?a=b",
		"env-SCRIPT_FILENAME": filepath.Join(scripts, "test.cgi"),
		"env-SCRIPT_NAME":     "/test.cgi",
	})
}

// TestPathInfoDirRoot: one Script for a mount at /myscript.
func TestPathInfoDirRoot(t *testing.T) {
	rn := newRunner(t, Config{Script: filepath.Join(scripts, "test.cgi")}, nil)
	s := get(t, mount{"/myscript", rn}, "GET /myscript/bar?a=b HTTP/1.0\nHost: example.com\n\n")
	m := keyValues(t, s.body)
	gwtest.CheckEnv(t, m, map[string]string{
		"env-PATH_INFO":       "/bar",
		"env-QUERY_STRING":    "a=b",
		"env-REQUEST_URI":     "/myscript/bar?a=b",
		"env-SCRIPT_FILENAME": filepath.Join(scripts, "test.cgi"),
		"env-SCRIPT_NAME":     "/myscript",
		"cwd":                 scripts,
	})
	if _, ok := m["env-DOCUMENT_ROOT"]; ok {
		t.Errorf("DOCUMENT_ROOT set without root: %q", m["env-DOCUMENT_ROOT"])
	}
}

// TestPathInfoRootMount: scripts from Root under a mount prefix.
func TestPathInfoRootMount(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	s := get(t, mount{"/cgi-bin", rn}, "GET /cgi-bin/test.cgi/a/b%20c?x=1 HTTP/1.1\nHost: example.com\n\n")
	gwtest.CheckEnv(t, keyValues(t, s.body), map[string]string{
		"env-PATH_INFO":       "/a/b c",
		"env-PATH_TRANSLATED": scripts + "/a/b c",
		"env-REQUEST_URI":     "/cgi-bin/test.cgi/a/b%20c?x=1",
		"env-SCRIPT_NAME":     "/cgi-bin/test.cgi",
		"env-SERVER_PROTOCOL": "HTTP/1.1",
	})
}

func TestPathInfoNoRoot(t *testing.T) {
	rn := newRunner(t, Config{Script: filepath.Join(scripts, "test.cgi")}, nil)
	s := get(t, rn, "GET /bar?a=b HTTP/1.0\nHost: example.com\n\n")
	gwtest.CheckEnv(t, keyValues(t, s.body), map[string]string{
		"env-PATH_INFO":       "/bar",
		"env-QUERY_STRING":    "a=b",
		"env-REQUEST_URI":     "/bar?a=b",
		"env-SCRIPT_FILENAME": filepath.Join(scripts, "test.cgi"),
		"env-SCRIPT_NAME":     "",
	})
}

func TestDupHeaders(t *testing.T) {
	rn := newRunner(t, Config{Script: filepath.Join(scripts, "test.cgi")}, nil)
	s := get(t, mount{"/myscript", rn}, "GET /myscript/bar?a=b HTTP/1.0\n"+
		"Cookie: nom=NOM\n"+
		"Cookie: yum=YUM\n"+
		"X-Foo: val1\n"+
		"X-Foo: val2\n"+
		"Host: example.com\n\n")
	gwtest.CheckEnv(t, keyValues(t, s.body), map[string]string{
		"env-REQUEST_URI": "/myscript/bar?a=b",
		"env-HTTP_COOKIE": "nom=NOM; yum=YUM",
		"env-HTTP_X_FOO":  "val1, val2",
	})
}

// TestDropProxyHeader: httpoxy. The core drops HTTP_PROXY, and so does the
// runner when it is called with an environment that has one.
func TestDropProxyHeader(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	s := get(t, rn, "GET /test.cgi HTTP/1.0\nX-Foo: a\nProxy: should_be_stripped\nHost: example.com\n\n")
	m := keyValues(t, s.body)
	gwtest.CheckEnv(t, m, map[string]string{"env-HTTP_X_FOO": "a"})
	if v, ok := m["env-HTTP_PROXY"]; ok {
		t.Errorf("HTTP_PROXY = %q through the core", v)
	}

	env, _ := requestEnv(t, "GET /test.cgi HTTP/1.0\nHost: example.com\n\n")
	env["HTTP_PROXY"] = "http://evil.example:3128"
	r := &http.Request{Method: "GET", Header: http.Header{}}
	r = r.WithContext(environ.NewContext(context.Background(), env))
	rec := httptest.NewRecorder()
	rn.ServeHTTP(rec, r)
	m = keyValues(t, rec.Body.String())
	if v, ok := m["env-HTTP_PROXY"]; ok {
		t.Errorf("HTTP_PROXY = %q from the environment", v)
	}
	if m["test"] != "Hello CGI" {
		t.Errorf("script did not run: %q", rec.Body.String())
	}
}

func TestCGIBasicPost(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	s := get(t, rn, "POST /test.cgi?a=b HTTP/1.0\nHost: example.com\n"+
		"Content-Type: application/x-www-form-urlencoded\nContent-Length: 15\n\npostfoo=postbar")
	gwtest.CheckEnv(t, keyValues(t, s.body), map[string]string{
		"test":               "Hello CGI",
		"param-postfoo":      "postbar",
		"env-REQUEST_METHOD": "POST",
		"env-CONTENT_LENGTH": "15",
		"env-CONTENT_TYPE":   "application/x-www-form-urlencoded",
		"env-REQUEST_URI":    "/test.cgi?a=b",
	})
}

// TestCGIPostChunked: where Go's host answers 400, the runner spools the
// body and gives the script its length.
func TestCGIPostChunked(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	chunk := func(s string) string { return strings.ToUpper(strconvHex(len(s))) + "\r\n" + s + "\r\n" }
	s := get(t, rn, "POST /test.cgi?a=b HTTP/1.1\nHost: example.com\n"+
		"Content-Type: application/x-www-form-urlencoded\nTransfer-Encoding: chunked\n\n"+
		chunk("postfoo")+chunk("=")+chunk("postbar")+chunk(""))
	gwtest.CheckEnv(t, keyValues(t, s.body), map[string]string{
		"param-postfoo":      "postbar",
		"env-CONTENT_LENGTH": "15",
	})
}

func strconvHex(n int) string {
	const digits = "0123456789abcdef"
	if n < 16 {
		return digits[n : n+1]
	}
	return strconvHex(n/16) + digits[n%16:n%16+1]
}

func TestRedirect(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	s := get(t, rn, "GET /test.cgi?loc=http://foo.com/ HTTP/1.0\nHost: example.com\n\n")
	if s.resp.StatusCode != 302 {
		t.Errorf("status %d, want 302", s.resp.StatusCode)
	}
	if got := s.resp.Header.Get("Location"); got != "http://foo.com/" {
		t.Errorf("Location %q", got)
	}
	// Without a Redirect handler a local path goes to the client too.
	s = get(t, rn, "GET /test.cgi?loc=/foo HTTP/1.0\nHost: example.com\n\n")
	if s.resp.StatusCode != 302 || s.resp.Header.Get("Location") != "/foo" {
		t.Errorf("local path without Redirect: %d %q", s.resp.StatusCode, s.resp.Header.Get("Location"))
	}
}

// TestInternalRedirect: a local redirect is served again inside gatewayd,
// through the router, as a GET.
func TestInternalRedirect(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	rt := router{{"/cgi", rn}, {"/demo", demo.App{}}}
	rn.Redirect = rt
	s := get(t, rt, "POST /cgi/test.cgi?loc=/demo/foo%2520bar?x=1 HTTP/1.0\nHost: example.com\n"+
		"Content-Type: text/plain\nContent-Length: 3\n\nabc")
	if s.resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", s.resp.StatusCode, s.body)
	}
	env := demo.Parse(s.body)
	want := environ.Env{
		"REQUEST_METHOD": "GET",
		"SCRIPT_NAME":    "/demo",
		"PATH_INFO":      "/foo bar",
		"QUERY_STRING":   "x=1",
		"REQUEST_URI":    "/demo/foo%20bar?x=1",
		"REMOTE_ADDR":    "1.2.3.4",
		"HTTP_HOST":      "example.com",
	}
	gwtest.CheckEnv(t, env, want)
	for _, k := range []string{"CONTENT_LENGTH", "CONTENT_TYPE"} {
		if _, ok := env[k]; ok {
			t.Errorf("%s passed to the redirect", k)
		}
	}
}

// TestCopyError: a client that goes away while a big response streams
// gets the script killed (checked by pid) and the request ended.
func TestCopyError(t *testing.T) {
	rn := newRunner(t, Config{}, nil)
	srv := httpFront(t, rn)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://example.com/test.cgi?bigresponse=1", nil)
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	pid := atoi(t, res.Header.Get("X-CGI-Pid"))
	var buf [5000]byte
	if n, err := io.ReadFull(res.Body, buf[:]); err != nil {
		t.Fatalf("ReadFull: %d bytes, %v", n, err)
	}
	if !running(pid) {
		t.Fatalf("script %d not running before the client went away", pid)
	}
	conn.Close()
	waitGone(t, pid, pid)
}

// TestDir: scripts run in their own directory.
func TestDir(t *testing.T) {
	rn := newRunner(t, Config{Script: filepath.Join(scripts, "test.cgi")}, nil)
	s := get(t, mount{"/x", rn}, "GET /x HTTP/1.0\nHost: example.com\n\n")
	gwtest.CheckEnv(t, keyValues(t, s.body), map[string]string{"cwd": scripts})
}

// TestEnvOverride: Env is applied last and PassEnv picks the daemon's
// variables.
func TestEnvOverride(t *testing.T) {
	t.Setenv("GATEWAYD_TEST_PASSED", "yes")
	t.Setenv("GATEWAYD_TEST_SECRET", "leak")
	rn := newRunner(t, Config{
		PassEnv: []string{"GATEWAYD_TEST_PASSED", "GATEWAYD_TEST_UNSET"},
		Env: map[string]string{
			"SCRIPT_FILENAME":  "/over/ridden",
			"REQUEST_URI":      "/foo/bar",
			"PATH":             "/wibble",
			"GIT_PROJECT_ROOT": "/srv/git",
		},
	}, nil)
	s := get(t, rn, "GET /test.cgi HTTP/1.0\nHost: example.com\n\n")
	m := keyValues(t, s.body)
	gwtest.CheckEnv(t, m, map[string]string{
		"env-SCRIPT_FILENAME":      "/over/ridden",
		"env-REQUEST_URI":          "/foo/bar",
		"env-PATH":                 "/wibble",
		"env-GIT_PROJECT_ROOT":     "/srv/git",
		"env-GATEWAYD_TEST_PASSED": "yes",
	})
	for _, k := range []string{"env-GATEWAYD_TEST_SECRET", "env-GATEWAYD_TEST_UNSET"} {
		if v, ok := m[k]; ok {
			t.Errorf("%s = %q reached the script", k, v)
		}
	}
}

func TestHandlerStderr(t *testing.T) {
	log, logs := observed(t)
	rn := newRunner(t, Config{}, log)
	get(t, rn, "GET /test.cgi?writestderr=1 HTTP/1.0\nHost: example.com\n\n")
	lines := logs.FilterMessage("script stderr").All()
	if len(lines) != 1 || lines[0].ContextMap()["line"] != "Hello, stderr!" {
		t.Errorf("stderr log lines: %+v", lines)
	}
}
