package handler

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/core/environ"
)

// violations runs app under Validate with the environment e and returns
// what was reported.
func violations(t *testing.T, e environ.Env, app http.HandlerFunc) []string {
	t.Helper()
	var got []string
	v := Validate(app, func(r *http.Request, err error) {
		if !errors.Is(err, ErrViolation) {
			t.Errorf("%v does not wrap ErrViolation", err)
		}
		got = append(got, strings.TrimPrefix(err.Error(), ErrViolation.Error()+": "))
	})
	method := e["REQUEST_METHOD"]
	if method == "" {
		method = "GET"
	}
	r := httptest.NewRequest(method, "/", nil)
	r = r.WithContext(environ.NewContext(r.Context(), e))
	v.ServeHTTP(httptest.NewRecorder(), r)
	return got
}

func TestValidateCleanRequest(t *testing.T) {
	if got := violations(t, env("GET", "HTTP/1.1"), hello); len(got) != 0 {
		t.Errorf("violations on a clean request: %q", got)
	}
	noContent := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }
	if got := violations(t, env("GET", "HTTP/1.1"), noContent); len(got) != 0 {
		t.Errorf("violations on 204: %q", got)
	}
}

func TestValidateEnvironment(t *testing.T) {
	tests := []struct {
		change func(environ.Env)
		want   string
	}{
		{func(e environ.Env) { delete(e, "SERVER_NAME") }, "environment lacks SERVER_NAME"},
		{func(e environ.Env) { delete(e, "SERVER_PORT") }, "environment lacks SERVER_PORT"},
		{func(e environ.Env) { e["SERVER_PORT"] = "http" }, `SERVER_PORT "http" is not a port number`},
		{func(e environ.Env) { e["HTTP_CONTENT_TYPE"] = "a/b" }, "environment has HTTP_CONTENT_TYPE; it must be CONTENT_TYPE"},
		{func(e environ.Env) { e["HTTP_CONTENT_LENGTH"] = "1" }, "environment has HTTP_CONTENT_LENGTH; it must be CONTENT_LENGTH"},
		{func(e environ.Env) { e["SCRIPT_NAME"] = "app" }, `SCRIPT_NAME "app" must be empty or start with /`},
		{func(e environ.Env) { e["PATH_INFO"] = "x" }, `PATH_INFO "x" must be empty or start with /`},
		{func(e environ.Env) { e["SCRIPT_NAME"] = "/" }, `SCRIPT_NAME must not be "/"; it is "" for the root`},
		{func(e environ.Env) { e["CONTENT_LENGTH"] = "-3" }, `CONTENT_LENGTH "-3" is not a non-negative integer`},
	}
	for _, tt := range tests {
		e := env("GET", "HTTP/1.1")
		tt.change(e)
		got := violations(t, e, hello)
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("got %q, want [%q]", got, tt.want)
		}
	}
}

func TestValidateResponse(t *testing.T) {
	tests := []struct {
		name string
		app  http.HandlerFunc
		want string
	}{
		{"no content type", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) },
			"no Content-Type on a 200 response"},
		{"sniffed content type", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") },
			"no Content-Type before the first Write (net/http would sniff one)"},
		{"content type on 304", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(304)
		}, "Content-Type set on a 304 response, which has no body"},
		{"bad header name", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["X-Trailing-"] = []string{"1"}
			hello(w, r)
		}, `header name "X-Trailing-" is not [A-Za-z][A-Za-z0-9_-]* without a trailing - or _`},
		{"control character", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["X-Bell"] = []string{"a\x07b"}
			hello(w, r)
		}, "header X-Bell has a control character in its value"},
		{"status header", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Status", "200 OK")
			hello(w, r)
		}, "the app set a Status header; the status is WriteHeader's"},
		{"short body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", "4")
			io.WriteString(w, "ab")
		}, "Content-Length 4 but 2 body bytes written"},
	}
	for _, tt := range tests {
		got := violations(t, env("GET", "HTTP/1.1"), tt.app)
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s: got %q, want [%q]", tt.name, got, tt.want)
		}
	}
}

func TestValidateWriteAfterReturn(t *testing.T) {
	returned := make(chan struct{})
	wrote := make(chan struct{})
	var reported []string
	v := Validate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hello(w, r)
		go func() {
			defer close(wrote)
			<-returned
			io.WriteString(w, "late")
		}()
	}), func(r *http.Request, err error) { reported = append(reported, err.Error()) })
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(environ.NewContext(r.Context(), env("GET", "HTTP/1.1")))
	v.ServeHTTP(httptest.NewRecorder(), r)
	close(returned)
	<-wrote
	if len(reported) != 1 || !strings.Contains(reported[0], "Write of 4 bytes after the app returned") {
		t.Errorf("reported %q", reported)
	}
}
