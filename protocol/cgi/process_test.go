package cgi

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/app/demo"
)

// TestHelperProcess is the CGI program of the tests below: this test binary
// run again with GATEWAYD_TEST_CGI=1 answers one request through Serve.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("GATEWAYD_TEST_CGI") != "1" {
		t.Skip("run as a CGI program by the other tests")
	}
	code := 0
	if err := Serve(demo.App{}, Options{IISPathDedup: os.Getenv("GATEWAYD_TEST_IIS") == "1"}); err != nil {
		code = 1
	}
	os.Exit(code)
}

func helperCommand(env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append([]string{"GATEWAYD_TEST_CGI=1"}, env...)
	return cmd
}

// TestProcessEnvironmentBytes checks that values that are not UTF-8 reach
// the app byte for byte from a real process environment, and that the body
// is read from standard input.
func TestProcessEnvironmentBytes(t *testing.T) {
	cmd := helperCommand("GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=POST", "SERVER_NAME=localhost",
		"SERVER_PORT=80", "SERVER_PROTOCOL=HTTP/1.1", "SCRIPT_NAME=/app.cgi", "PATH_INFO=/caf\xe9",
		"X_RAW=\xff\xfe\x80 latin-1 \xe9", "CONTENT_LENGTH=5", "CONTENT_TYPE=text/plain")
	cmd.Stdin = strings.NewReader("hello and more")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	head, body, ok := strings.Cut(string(out), "\r\n\r\n")
	if !ok || !strings.HasPrefix(head, "Status: 200 OK\r\n") {
		t.Fatalf("output %q", out)
	}
	env := demo.Parse(body)
	for k, want := range map[string]string{"X_RAW": "\xff\xfe\x80 latin-1 \xe9", "PATH_INFO": "/caf\xe9", "CONTENT_LENGTH": "5"} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
}

// TestNetHTTPCGIHost runs the program under Go's own CGI host,
// net/http/cgi.Handler, with and without the IIS path mode.
func TestNetHTTPCGIHost(t *testing.T) {
	for _, iis := range []bool{false, true} {
		h := &cgi.Handler{
			Path: os.Args[0],
			Root: "/app.cgi",
			Args: []string{"-test.run=^TestHelperProcess$"},
			Env:  []string{"GATEWAYD_TEST_CGI=1"},
		}
		if iis {
			h.Env = append(h.Env, "GATEWAYD_TEST_IIS=1")
		}
		srv := httptest.NewServer(h)
		resp, err := http.Post(srv.URL+"/app.cgi/users/7?x=1", "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("Content-Length") == "" {
			t.Fatalf("%d %v %q", resp.StatusCode, resp.Header, b)
		}
		env := demo.Parse(string(b))
		for k, want := range map[string]string{
			"SCRIPT_NAME": "/app.cgi", "PATH_INFO": "/users/7", "QUERY_STRING": "x=1", "REQUEST_METHOD": "POST",
			"CONTENT_LENGTH": "4", "CONTENT_TYPE": "text/plain", "GATEWAY_INTERFACE": "CGI/1.1",
		} {
			if env[k] != want {
				t.Errorf("iis=%v: %s = %q, want %q", iis, k, env[k], want)
			}
		}
	}
}
