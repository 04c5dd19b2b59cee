package docroot

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/fcgiwire"
	"github.com/gatewayd/gatewayd/internal/gwtest"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"app.php", "sub/index.php", "style.css", ".env", ".git/config.php", ".well-known/x.php"} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	deny := Lookup{Index: "index.php", Extensions: []string{".php"}}
	allow := deny
	allow.Dotfiles = true
	tests := []struct {
		l    Lookup
		path string
		want Target
	}{
		{deny, "/app.php/x", Target{Script: "app.php", PathInfo: "/x"}},
		{deny, "/sub/", Target{Script: "sub/index.php"}},
		{deny, "/sub", Target{Status: http.StatusMovedPermanently, Dir: "sub"}},
		{deny, "/style.css", Target{Status: http.StatusForbidden, File: true}},
		{deny, "/../app.php", Target{Status: http.StatusBadRequest}},
		{deny, "/sub\\..\\..\\app.php", Target{Status: http.StatusBadRequest}},
		{deny, "/app.php\x00.css", Target{Status: http.StatusBadRequest}},
		{deny, "/.git/config.php", Target{Status: http.StatusForbidden}},
		{deny, "/.env", Target{Status: http.StatusForbidden}},
		{deny, "/.well-known/x.php", Target{Script: ".well-known/x.php"}},
		{allow, "/.git/config.php", Target{Script: ".git/config.php"}},
		{deny, "/missing.php", Target{Status: http.StatusNotFound}},
	}
	for _, tt := range tests {
		if got := tt.l.Resolve(root, tt.path); got != tt.want {
			t.Errorf("Resolve(%q, dotfiles %v) = %+v, want %+v", tt.path, tt.l.Dotfiles, got, tt.want)
		}
	}
}

func TestParams(t *testing.T) {
	env := environ.Env{"SCRIPT_NAME": "/php", "PATH_INFO": "/app.php/x", "QUERY_STRING": "a=1", "HTTP_PROXY": "evil"}
	p := Params(env, "/srv/www", Target{Script: "app.php", PathInfo: "/x"})
	want := map[string]string{"SCRIPT_NAME": "/php/app.php", "SCRIPT_FILENAME": "/srv/www/app.php", "DOCUMENT_ROOT": "/srv/www",
		"PATH_INFO": "/x", "PATH_TRANSLATED": "/srv/www/x", "REQUEST_URI": "/php/app.php/x?a=1", "REDIRECT_STATUS": "200",
		"GATEWAY_INTERFACE": "CGI/1.1", "QUERY_STRING": "a=1"}
	gwtest.CheckEnv(t, p, want)
	if _, ok := p["HTTP_PROXY"]; ok {
		t.Error("HTTP_PROXY passed (httpoxy)")
	}
}

// TestParamSetAppendIsMap: the pairs the fastcgi app encodes straight from
// the environment are Params' map, with the variables Set put in.
func TestParamSetAppendIsMap(t *testing.T) {
	env := environ.Env{"REQUEST_METHOD": "POST", "SCRIPT_NAME": "/php", "PATH_INFO": "/a.php/x",
		"HTTP_PROXY": "http://evil", "CONTENT_LENGTH": "", "REQUEST_ID": "from-the-client", "QUERY_STRING": "q=1"}
	ps := NewParamSet(env, "/srv", Target{Script: "a.php", PathInfo: "/x"})
	ps.ContentLength = "3"
	ps.Set("REQUEST_ID", "r-1")
	got := map[string]string{}
	if err := fcgiwire.DecodePairs(string(ps.Append(nil)), fcgiwire.Limits{}, func(n, v string) {
		if _, dup := got[n]; dup {
			t.Errorf("%s twice", n)
		}
		got[n] = v
	}); err != nil {
		t.Fatal(err)
	}
	want := ps.Map()
	if len(got) != len(want) {
		t.Errorf("Append %v, Map %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: Append %q, Map %q", k, got[k], v)
		}
	}
	if want["HTTP_PROXY"] != "" || want["REQUEST_ID"] != "r-1" || want["CONTENT_LENGTH"] != "3" ||
		want["SCRIPT_NAME"] != "/php/a.php" || want["PATH_TRANSLATED"] != "/srv/x" || want["REQUEST_URI"] != "/php/a.php/x?q=1" {
		t.Errorf("params %v", want)
	}
}
