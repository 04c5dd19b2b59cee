package gatewayd_test

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd"
	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/gwtest"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// authorize is the Go authorizer of docs/authorizer.md, kept the same.
func authorize(w http.ResponseWriter, r *http.Request) {
	env, _ := environ.FromContext(r.Context())
	if env["FCGI_ROLE"] != "AUTHORIZER" {
		// Reached as a responder (a plain request): this program only authorizes.
		http.Error(w, "this program only authorizes", http.StatusNotFound)
		return
	}
	switch r.Header.Get("X-Token") {
	case "":
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatewayd"`)
		http.Error(w, "a token is required", http.StatusUnauthorized)
	case "alice-token":
		// 200 grants. Each Variable-NAME becomes the variable NAME of the
		// request, spelled exactly so: the names are assigned, because
		// Header().Set would write Variable-Auth_user.
		h := w.Header()
		h["Variable-AUTH_USER"] = []string{"alice"}
		h["Variable-GW_TIER"] = []string{"gold"}
		w.WriteHeader(http.StatusOK)
	default:
		http.Error(w, "that token is not welcome", http.StatusForbidden)
	}
}

// testAuthorizer wraps authorize with what only the test needs: a request
// body or CONTENT_LENGTH reaching the authorizer fails the grant, and two
// tokens make it fail the ways an app can (a panic answered 500, a
// response cut off).
func testAuthorizer(w http.ResponseWriter, r *http.Request) {
	env, _ := environ.FromContext(r.Context())
	switch r.Header.Get("X-Token") {
	case "exit1":
		panic("the authorizer failed")
	case "killed":
		panic(http.ErrAbortHandler)
	}
	if n, _ := io.Copy(io.Discard, r.Body); n != 0 || env["CONTENT_LENGTH"] != "" {
		http.Error(w, "the authorizer was sent a body", http.StatusInternalServerError)
		return
	}
	authorize(w, r)
}

// scriptWrapper does for the script what testAuthorizer does for the Go
// handler, then runs the script of docs/recipes.
const scriptWrapper = `#!/bin/sh
case "$HTTP_X_TOKEN" in
exit1) exit 1 ;;
killed) kill -9 $$ ;;
esac
n=$(wc -c)
if [ "$n" != 0 ] || [ -n "${CONTENT_LENGTH+set}" ]; then
	printf 'Status: 500\r\nContent-Type: text/plain\r\n\r\nthe authorizer was sent a body\n'
	exit 0
fi
exec "$(dirname "$0")/authorizer.cgi"
`

// protectedEnv is the resource behind the authorizer, an Apache CGI script:
// it shows its environment and the body it was sent.
const protectedEnv = `#!/bin/sh
printf 'Content-Type: text/plain\n\n'
env | sort
printf 'BODY='
cat
`

// TestAuthorizerApache runs Apache httpd with mod_authnz_fcgi, configured
// by docs/recipes/apache-authorizer.conf, in front of gatewayd's FastCGI
// listener, for both kinds of authorizer app: a CGI script behind the
// daemon's cgi route, and a Go handler served by gatewayd.Serve.
func TestAuthorizerApache(t *testing.T) {
	peertest.Need(t, "apache2", "/usr/sbin/apache2")
	for _, tc := range []struct {
		name string
		// start serves the authorizer over FastCGI on addr.
		start func(t *testing.T, addr string)
		// failed is the status of a failing and of a killed authorizer.
		failed, killed int
	}{
		{"cgi script", startScriptAuthorizer, http.StatusBadGateway, http.StatusBadGateway},
		{"go handler", startGoAuthorizer, http.StatusInternalServerError, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := peertest.FreeAddr(t)
			tc.start(t, gw)
			web, apacheDir := startProtected(t, gw)
			url := "http://" + web + "/private/"

			code, h, body := gwtest.Fetch(t, http.MethodPost, url+"env.cgi", "the body is the responder's", map[string]string{"X-Token": "alice-token"})
			if code != http.StatusOK {
				t.Fatalf("granted: %d %q\n%s", code, body, peertest.ApacheErrorLog(apacheDir))
			}
			for _, want := range []string{"\nAUTH_USER=alice\n", "\nGW_TIER=gold\n", "\nREMOTE_USER=alice\n",
				"BODY=the body is the responder's"} {
				if !strings.Contains("\n"+body, want) {
					t.Errorf("granted: the protected resource lacks %q:\n%s", strings.TrimSpace(want), body)
				}
			}
			for _, bad := range []string{"Auth_user=", "Gw_tier=", "Variable"} {
				if strings.Contains(body, bad) {
					t.Errorf("granted: the protected resource has %q:\n%s", bad, body)
				}
			}
			if v := h.Get("Variable-AUTH_USER"); v != "" {
				t.Errorf("granted: Variable-AUTH_USER reached the client: %q", v)
			}

			if code, _, body := gwtest.Fetch(t, http.MethodGet, url+"hello.txt", "", map[string]string{"X-Token": "alice-token"}); code != http.StatusOK || body != "hello\n" {
				t.Errorf("granted static file: %d %q", code, body)
			}

			code, h, body = gwtest.Fetch(t, http.MethodGet, url+"env.cgi", "", map[string]string{"X-Token": ""})
			if code != http.StatusUnauthorized || h.Get("WWW-Authenticate") != `Bearer realm="gatewayd"` ||
				body != "a token is required\n" {
				t.Errorf("no token: %d %v %q, want 401 with the authorizer's challenge and body", code, h, body)
			}
			code, _, body = gwtest.Fetch(t, http.MethodPost, url+"env.cgi", "x", map[string]string{"X-Token": "mallory-token"})
			if code != http.StatusForbidden || body != "that token is not welcome\n" {
				t.Errorf("bad token: %d %q, want 403 with the authorizer's body", code, body)
			}
			for token, want := range map[string]int{"exit1": tc.failed, "killed": tc.killed} {
				code, _, body := gwtest.Fetch(t, http.MethodGet, url+"env.cgi", "", map[string]string{"X-Token": token})
				if code != want || strings.Contains(body, "AUTH_USER") {
					t.Errorf("authorizer %s: %d %q, want %d and the resource not run", token, code, body, want)
				}
			}
		})
	}
}

// startScriptAuthorizer runs the gatewayd daemon with one cgi route whose
// script is docs/recipes/authorizer.cgi (behind scriptWrapper).
func startScriptAuthorizer(t *testing.T, addr string) {
	bin := peertest.Gatewayd(t)
	dir := peertest.Dir(t)
	script := peertest.Recipe(t, "authorizer.cgi", nil)
	for name, text := range map[string]string{"authorizer.cgi": script, "wrapper.cgi": scriptWrapper} {
		if err := os.Chmod(peertest.WriteFile(t, dir, name, text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := peertest.WriteFile(t, dir, "gatewayd.yaml", `
listeners:
  - {protocol: fastcgi, address: "`+addr+`"}
routes:
  - {prefix: /, app: cgi, script: "`+filepath.Join(dir, "wrapper.cgi")+`", allow_root: true}
metrics: {address: ""}
`)
	p := peertest.Start(t, exec.Command(bin, "serve", "--config", cfg))
	peertest.WaitReady(t, p, "gatewayd", peertest.Dial(addr))
}

// startGoAuthorizer runs this test binary as a program that serves
// testAuthorizer with gatewayd.Serve (see TestMain).
func startGoAuthorizer(t *testing.T, addr string) {
	cfg := peertest.WriteFile(t, t.TempDir(), "g.yaml",
		"listeners:\n  - {protocol: fastcgi, address: \""+addr+"\"}\nmetrics: {address: \"\"}\n")
	cmd := child()
	cmd.Env = append(cmd.Env, "GATEWAYD_TEST_LIBRARY_CHILD=authorizer", "GATEWAYD_CONFIG="+cfg)
	p := peertest.Start(t, cmd)
	peertest.WaitReady(t, p, "the authorizer program", peertest.Dial(addr))
}

// serveAuthorizer is the child program of startGoAuthorizer.
func serveAuthorizer() {
	if err := gatewayd.Serve(http.HandlerFunc(testAuthorizer)); err != nil {
		os.Stderr.WriteString("serve: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(0)
}

// startProtected runs Apache with the recipe guarding /private/, which
// holds a CGI script and a static file. It returns Apache's address and
// its directory.
func startProtected(t *testing.T, gw string) (string, string) {
	dir := peertest.Dir(t)
	docs := filepath.Join(dir, "htdocs")
	peertest.WriteFile(t, docs, "private/hello.txt", "hello\n")
	if err := os.Chmod(peertest.WriteFile(t, docs, "private/env.cgi", protectedEnv), 0o755); err != nil {
		t.Fatal(err)
	}
	listen := peertest.FreeAddr(t)
	recipe := peertest.Recipe(t, "apache-authorizer.conf", map[string]string{
		"GATEWAYD_FCGI": "fcgi://" + gw + "/", "PROTECTED": "/private/"})
	_, apacheDir := peertest.Apache(t, listen, []string{"authnz_fcgi", "cgi"}, `
DocumentRoot "`+docs+`"
<Directory "`+docs+`/private">
    Options +ExecCGI
    AddHandler cgi-script .cgi
</Directory>
`+recipe)
	return listen, apacheDir
}

// TestAuthorizerDocs holds docs/authorizer.md to what TestAuthorizerApache
// runs: the Apache recipe (less comments, placeholders filled as the page
// fills them), the script, and the Go handler authorize.
func TestAuthorizerDocs(t *testing.T) {
	root := peertest.ModuleRoot()
	read := func(path string) string {
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	doc := read("docs/authorizer.md")
	block := func(lang string) string {
		_, b, ok := strings.Cut(doc, "```"+lang+"\n")
		b, _, ok2 := strings.Cut(b, "```")
		if !ok || !ok2 {
			t.Fatalf("docs/authorizer.md has no ```%s block", lang)
		}
		return b
	}
	recipe := peertest.Recipe(t, "apache-authorizer.conf", map[string]string{
		"GATEWAYD_FCGI": "fcgi://127.0.0.1:9001/", "PROTECTED": "/private/"})
	var want []string
	for _, line := range strings.Split(recipe, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			want = append(want, line)
		}
	}
	if got := strings.TrimSpace(block("apache")); got != strings.Join(want, "\n") {
		t.Errorf("docs/authorizer.md shows:\n%s\nthe recipe is:\n%s", got, strings.Join(want, "\n"))
	}
	if got, want := block("sh"), read("docs/recipes/authorizer.cgi"); got != want {
		t.Errorf("docs/authorizer.md shows the script:\n%s\ndocs/recipes/authorizer.cgi is:\n%s", got, want)
	}
	if _, err := config.Parse(block("yaml")); err != nil {
		t.Errorf("docs/authorizer.md's gatewayd config: %v", err)
	}
	src := read("authorizer_test.go")
	i := strings.Index(src, "func authorize(")
	j := strings.Index(src[i:], "\n}\n")
	if i < 0 || j < 0 {
		t.Fatal("authorize not found in authorizer_test.go")
	}
	if got, want := block("go"), src[i:i+j+3]; got != want {
		t.Errorf("docs/authorizer.md shows the handler:\n%s\nauthorizer_test.go has:\n%s", got, want)
	}
}
