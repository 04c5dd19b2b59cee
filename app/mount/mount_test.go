package mount

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
)

// echo reports the app's name and the environment it saw.
type echo string

func (e echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	env, _ := environ.FromContext(r.Context())
	io.WriteString(w, string(e)+" "+env["SCRIPT_NAME"]+" "+env["PATH_INFO"])
}

func TestLongestPrefixOnSegmentBoundary(t *testing.T) {
	rt := New([]Route{
		{Prefix: "/", Kind: "demo", App: echo("root")},
		{Prefix: "/cgi", Kind: "cgi", App: echo("cgi")},
		{Prefix: "/cgi/admin", Kind: "cgi", App: echo("admin")},
		{Prefix: "/static", Kind: "static", App: echo("static")},
	})
	tests := []struct {
		sn, pi string
		want   string
	}{
		{"", "/", "root  /"},
		{"", "/cgi", "cgi /cgi "},
		{"", "/cgi/", "cgi /cgi /"},
		{"", "/cgi/x.sh/a", "cgi /cgi /x.sh/a"},
		{"", "/cgi-bin/x", "root  /cgi-bin/x"},
		{"", "/cgi/admin/users", "admin /cgi/admin /users"},
		{"", "/cgi/administrator", "cgi /cgi /administrator"},
		{"/app", "/static/a.css", "static /app/static /a.css"},
		{"", "", "root  "},
	}
	for _, tt := range tests {
		env := environ.Env{"REQUEST_METHOD": "GET", "SCRIPT_NAME": tt.sn, "PATH_INFO": tt.pi}
		req := httptest.NewRequest("GET", "/", nil)
		info := &handler.Info{}
		req = req.WithContext(handler.WithInfo(environ.NewContext(req.Context(), env), info))
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		if got := rec.Body.String(); got != tt.want {
			t.Errorf("(%q, %q) → %q, want %q", tt.sn, tt.pi, got, tt.want)
		}
		if env["PATH_INFO"] != tt.pi {
			t.Errorf("router changed the caller's environment: PATH_INFO %q", env["PATH_INFO"])
		}
		if info.Route == "" || info.App == "" {
			t.Errorf("(%q) info not filled: %+v", tt.pi, info)
		}
	}
}

func TestNoMatchIs404(t *testing.T) {
	rt := New([]Route{{Prefix: "/api", Kind: "demo", App: echo("api")}})
	for _, pi := range []string{"/", "/apis", "/ap", ""} {
		env := environ.Env{"REQUEST_METHOD": "GET", "PATH_INFO": pi}
		req := httptest.NewRequest("GET", "/", nil)
		req = req.WithContext(environ.NewContext(req.Context(), env))
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Errorf("PATH_INFO %q: status %d, want 404", pi, rec.Code)
		}
	}
}

func BenchmarkRoute(b *testing.B) {
	rt := New([]Route{{Prefix: "/", App: echo("r")}, {Prefix: "/cgi", App: echo("c")}, {Prefix: "/a/b", App: echo("ab")}})
	env := environ.Env{"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/cgi/x"}
	req := httptest.NewRequest("GET", "/", nil)
	req = req.WithContext(environ.NewContext(req.Context(), env))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		w.Body.Reset()
		rt.ServeHTTP(w, req)
	}
}
