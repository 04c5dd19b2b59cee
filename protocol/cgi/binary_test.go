package cgi_test

// Tests of the real gatewayd binary and of the lean gatewayd-cgi as CGI
// programs: run directly with a CGI environment, under Apache httpd's
// mod_cgi and under Go's net/http/cgi host.

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/config"
	"github.com/gatewayd/gatewayd/internal/gwtest"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// baseEnv is a CGI environment as Apache would set it for GET /app.cgi/users/7.
var baseEnv = []string{
	"GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET", "SERVER_NAME=localhost", "SERVER_PORT=80",
	"SERVER_PROTOCOL=HTTP/1.1", "SERVER_SOFTWARE=Apache", "REMOTE_ADDR=127.0.0.1", "QUERY_STRING=",
	"SCRIPT_NAME=/app.cgi", "PATH_INFO=/users/7", "REQUEST_URI=/app.cgi/users/7",
}

// runBinary runs gatewayd with env (and nothing else) and stdin, and
// returns its stdout and stderr.
func runBinary(t *testing.T, env []string, stdin string, args ...string) (string, string) {
	t.Helper()
	return runBinaryFor(t, 20*time.Second, env, stdin, args...)
}

// runBinaryFor is runBinary killing gatewayd after d.
func runBinaryFor(t *testing.T, d time.Duration, env []string, stdin string, args ...string) (string, string) {
	t.Helper()
	return runProgram(t, peertest.Gatewayd(t), d, env, stdin, args...)
}

// runProgram runs bin with env (and nothing else), stdin and args, killing
// it after d, and returns its stdout and stderr.
func runProgram(t *testing.T, bin string, d time.Duration, env []string, stdin string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(d, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("running gatewayd: %v", err)
		}
	}
	return out.String(), stderr.String()
}

// with returns base with the variables in kv set.
func with(base []string, kv ...string) []string {
	env := slices.Clone(base)
	for _, v := range kv {
		name, _, _ := strings.Cut(v, "=")
		env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, name+"=") })
		env = append(env, v)
	}
	return env
}

// demoAnswer is the exact gateway-form answer of the demo app to env.
func demoAnswer(env []string) string {
	// gatewayd's own GATEWAYD_* settings are not part of the request.
	names := slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "GATEWAYD_") })
	slices.Sort(names)
	body := "Hello world!\n\n" + strings.Join(names, "\n") + "\n"
	return "Status: 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) +
		"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body
}

func TestBinaryAnswersInGatewayForm(t *testing.T) {
	// No subcommand: GATEWAY_INTERFACE makes it a CGI program.
	out, stderr := runBinary(t, baseEnv, "")
	if want := demoAnswer(baseEnv); out != want {
		t.Errorf("output\n%q\nwant\n%q\nstderr: %s", out, want, stderr)
	}
	// gatewayd cgi, with a POST body of which exactly CONTENT_LENGTH bytes
	// are read.
	env := with(baseEnv, "REQUEST_METHOD=POST", "CONTENT_LENGTH=7", "CONTENT_TYPE=application/x-www-form-urlencoded")
	out, stderr = runBinary(t, env, "a=1&b=2 and what follows", "cgi")
	if want := demoAnswer(env); out != want {
		t.Errorf("output\n%q\nwant\n%q\nstderr: %s", out, want, stderr)
	}
}

func TestBinaryIISPathDedup(t *testing.T) {
	iis := with(baseEnv, "PATH_INFO=/app.cgi/users/7")
	dir := peertest.Dir(t)
	on := peertest.WriteFile(t, dir, "iis.yaml", "cgi:\n  iis_path_dedup: true\n")
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"off", iis, nil, "/app.cgi/users/7"},
		{"config key", iis, []string{"cgi", "--config", on}, "/users/7"},
		{"GATEWAYD_CONFIG", with(iis, "GATEWAYD_CONFIG="+on), nil, "/users/7"},
		{"environment override", with(iis, "GATEWAYD_CGI_IIS_PATH_DEDUP=true"), nil, "/users/7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr := runBinary(t, tc.env, "", tc.args...)
			_, body, _ := strings.Cut(out, "\r\n\r\n")
			if !strings.HasPrefix(out, "Status: 200 OK\r\n") {
				t.Fatalf("output %q\nstderr: %s", out, stderr)
			}
			if got := demo.Parse(body)["PATH_INFO"]; got != tc.want {
				t.Errorf("PATH_INFO = %q, want %q", got, tc.want)
			}
		})
	}
}

var httpDate = regexp.MustCompile(`\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n`)

func TestBinaryNPH(t *testing.T) {
	env := with(baseEnv, "SCRIPT_NAME=/cgi-bin/nph-app", "PATH_INFO=", "REQUEST_URI=/cgi-bin/nph-app")
	out, stderr := runBinary(t, env, "")
	head, _, _ := strings.Cut(out, "\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !httpDate.MatchString(head+"\r\n") ||
		!strings.Contains(head+"\r\n", "\r\nServer: gatewayd/"+config.Version+"\r\n") {
		t.Errorf("output %q\nstderr: %s", out, stderr)
	}
	// A plain name, with cgi.nph set: the same.
	out, _ = runBinary(t, with(baseEnv, "GATEWAYD_CGI_NPH=true"), "")
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") {
		t.Errorf("with cgi.nph: output %q", out)
	}
}

func TestBinaryConfigErrors(t *testing.T) {
	const page = "Status: 500 Internal Server Error\r\nContent-Length: 60\r\nContent-Type: text/plain\r\n\r\n" +
		"A server error occurred.  Please contact the administrator.\n"
	bad := peertest.WriteFile(t, peertest.Dir(t), "bad.yaml", "cgi:\n  bogus: 1\n")
	out, stderr := runBinary(t, with(baseEnv, "GATEWAYD_CONFIG="+bad), "")
	if out != page || !strings.Contains(stderr, "cgi.bogus") {
		t.Errorf("bad config: output %q\nstderr %q", out, stderr)
	}
	out, stderr = runBinary(t, baseEnv, "", "cgi", "--config", "/nonexistent/gatewayd.yaml")
	if out != page || !strings.Contains(stderr, "/nonexistent/gatewayd.yaml") {
		t.Errorf("missing config: output %q\nstderr %q", out, stderr)
	}
}

// TestBinaryISINDEX checks that a query without "=", which web servers also
// pass as command line arguments (RFC 3875 4.4), cannot choose the config.
func TestBinaryISINDEX(t *testing.T) {
	env := with(baseEnv, "QUERY_STRING=cgi+--config+/nonexistent.yaml")
	out, stderr := runBinary(t, env, "", "cgi", "--config", "/nonexistent.yaml")
	if want := demoAnswer(env); out != want {
		t.Errorf("output %q\nstderr: %s", out, stderr)
	}
	// A config whose listener cannot collide with anything, in case the
	// query starts the daemon.
	conf := peertest.WriteFile(t, peertest.Dir(t), "gatewayd.yaml",
		"listeners:\n  - protocol: http\n    address: 127.0.0.1:0\nmetrics:\n  address: \"\"\n")
	env = with(baseEnv, "QUERY_STRING=serve", "GATEWAYD_CONFIG="+conf)
	out, stderr = runBinaryFor(t, 3*time.Second, env, "", "serve")
	if want := demoAnswer(env); out != want {
		t.Errorf("ISINDEX query \"serve\": output %q\nstderr: %s", out, stderr)
	}
}

// TestApacheModCGI runs the lean binary under Apache httpd with the recipe
// of docs/cgi.md.
func TestApacheModCGI(t *testing.T) {
	bin := peertest.GatewaydCGI(t)
	dir := peertest.Dir(t)
	nph := filepath.Join(dir, "nph-gatewayd-cgi")
	if err := os.Symlink(bin, nph); err != nil {
		t.Fatal(err)
	}
	conf := peertest.WriteFile(t, dir, "gatewayd.yaml", "server_software: gatewayd-under-apache\n")
	listen := peertest.FreeAddr(t)
	recipe := peertest.Recipe(t, "apache-cgi.conf", map[string]string{"GATEWAYD_CGI": bin, "NPH_GATEWAYD_CGI": nph, "CONFIG": conf})
	peertest.Apache(t, listen, []string{"cgi"}, recipe)
	base := "http://" + listen

	resp, body := fetch(t, "GET", base+"/app.cgi/users/7?x=1", "", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "Hello world!\n\n") {
		t.Fatalf("GET: %d %q", resp.StatusCode, body)
	}
	gwtest.CheckEnv(t, demo.Parse(body), map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "SCRIPT_NAME": "/app.cgi", "PATH_INFO": "/users/7",
		"QUERY_STRING": "x=1", "REQUEST_URI": "/app.cgi/users/7?x=1", "SERVER_PROTOCOL": "HTTP/1.1",
		"REMOTE_ADDR": "127.0.0.1", "SCRIPT_FILENAME": bin, "GATEWAYD_CONFIG": gwtest.Unset,
		"CONTENT_LENGTH": gwtest.Unset, "CONTENT_TYPE": gwtest.Unset,
	})
	if !strings.HasPrefix(demo.Parse(body)["SERVER_SOFTWARE"], "Apache") {
		t.Errorf("SERVER_SOFTWARE = %q", demo.Parse(body)["SERVER_SOFTWARE"])
	}

	resp, body = fetch(t, "POST", base+"/app.cgi/form", "a=1&b=2", "application/x-www-form-urlencoded")
	if resp.StatusCode != 200 {
		t.Fatalf("POST: %d %q", resp.StatusCode, body)
	}
	gwtest.CheckEnv(t, demo.Parse(body), map[string]string{
		"REQUEST_METHOD": "POST", "PATH_INFO": "/form", "CONTENT_LENGTH": "7",
		"CONTENT_TYPE": "application/x-www-form-urlencoded",
	})

	// NPH: Apache passes the answer through as gatewayd wrote it.
	resp, body = fetch(t, "GET", base+"/nph-app/x", "", "")
	if resp.StatusCode != 200 || resp.Header.Get("Server") != "gatewayd-under-apache" || resp.Header.Get("Date") == "" {
		t.Errorf("NPH: %d %v", resp.StatusCode, resp.Header)
	}
	gwtest.CheckEnv(t, demo.Parse(body), map[string]string{"SCRIPT_NAME": "/nph-app", "PATH_INFO": "/x", "SCRIPT_FILENAME": nph})
}

// TestNetHTTPCGIHostsBinary runs the lean binary under Go's
// net/http/cgi.Handler, as docs/cgi.md shows.
func TestNetHTTPCGIHostsBinary(t *testing.T) {
	h := &cgi.Handler{Path: peertest.GatewaydCGI(t), Root: "/app.cgi"}
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, body := fetch(t, "POST", srv.URL+"/app.cgi/users/7?x=1", "hello", "text/plain")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("%d %v %q", resp.StatusCode, resp.Header, body)
	}
	gwtest.CheckEnv(t, demo.Parse(body), map[string]string{
		"SCRIPT_NAME": "/app.cgi", "PATH_INFO": "/users/7", "QUERY_STRING": "x=1", "REQUEST_METHOD": "POST",
		"CONTENT_LENGTH": "5", "CONTENT_TYPE": "text/plain", "GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE": "go", "HTTP_PROXY": gwtest.Unset,
	})
}

func fetch(t *testing.T, method, url, body, contentType string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Proxy", "http://evil.example")
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestIISRecipe checks the web.config of docs/iis.md as far as can be done
// without IIS: it is well-formed, maps app.cgi to the CGI module, and the
// command line it gives IIS, run with the environment IIS sets without
// allowPathInfo, answers with the repeated path removed.
func TestIISRecipe(t *testing.T) {
	bin := peertest.GatewaydCGI(t)
	conf := peertest.WriteFile(t, peertest.Dir(t), "cgi.yaml", "cgi:\n  iis_path_dedup: true\n")
	text := peertest.Recipe(t, "iis-web.config", map[string]string{"GATEWAYD_CGI_EXE": bin, "CONFIG": conf})
	var wc struct {
		Handlers []struct {
			Name            string `xml:"name,attr"`
			Path            string `xml:"path,attr"`
			Modules         string `xml:"modules,attr"`
			ScriptProcessor string `xml:"scriptProcessor,attr"`
			AllowPathInfo   string `xml:"allowPathInfo,attr"`
		} `xml:"system.webServer>handlers>add"`
	}
	if err := xml.Unmarshal([]byte(text), &wc); err != nil {
		t.Fatalf("web.config: %v", err)
	}
	if len(wc.Handlers) != 1 || wc.Handlers[0].Modules != "CgiModule" || wc.Handlers[0].Path != "app.cgi" ||
		wc.Handlers[0].AllowPathInfo != "false" {
		t.Fatalf("handlers: %+v", wc.Handlers)
	}
	argv := strings.Fields(wc.Handlers[0].ScriptProcessor)
	if argv[0] != bin {
		t.Fatalf("scriptProcessor %q", wc.Handlers[0].ScriptProcessor)
	}
	iis := []string{
		"GATEWAY_INTERFACE=CGI/1.1", "SERVER_SOFTWARE=Microsoft-IIS/10.0", "REQUEST_METHOD=GET",
		"SERVER_NAME=localhost", "SERVER_PORT=80", "SERVER_PROTOCOL=HTTP/1.1", "REMOTE_ADDR=::1",
		"SCRIPT_NAME=/app.cgi", "PATH_INFO=/app.cgi/users/7", `PATH_TRANSLATED=C:\inetpub\wwwroot\app.cgi\users\7`,
		"QUERY_STRING=", "CONTENT_LENGTH=0", "HTTP_HOST=localhost",
	}
	out, stderr := runProgram(t, bin, 20*time.Second, iis, "", argv[1:]...)
	_, body, _ := strings.Cut(out, "\r\n\r\n")
	if !strings.HasPrefix(out, "Status: 200 OK\r\n") {
		t.Fatalf("output %q\nstderr: %s", out, stderr)
	}
	gwtest.CheckEnv(t, demo.Parse(body), map[string]string{"SCRIPT_NAME": "/app.cgi", "PATH_INFO": "/users/7", "CONTENT_LENGTH": "0"})
}

// TestLeanBinaryAnswersAsGatewaydCGI runs the same requests through
// `gatewayd cgi` and gatewayd-cgi: the lean program is the same CGI mode,
// not a second one, so every answer must be the same bytes (but an NPH
// answer's Date).
func TestLeanBinaryAnswersAsGatewaydCGI(t *testing.T) {
	full, lean := peertest.Gatewayd(t), peertest.GatewaydCGI(t)
	dir := peertest.Dir(t)
	iis := peertest.WriteFile(t, dir, "iis.yaml", "cgi:\n  iis_path_dedup: true\nlog: {level: warn}\n")
	routes := peertest.WriteFile(t, dir, "routes.yaml", "routes:\n  - {prefix: /users, app: demo}\n")
	bad := peertest.WriteFile(t, dir, "bad.yaml", "cgi:\n  bogus: 1\n")
	post := with(baseEnv, "REQUEST_METHOD=POST", "CONTENT_LENGTH=7", "CONTENT_TYPE=application/x-www-form-urlencoded")
	for _, tc := range []struct {
		name  string
		env   []string
		stdin string
		args  []string
	}{
		{"GET, defaults", baseEnv, "", nil},
		{"POST body", post, "a=1&b=2 and what follows", nil},
		{"routes", baseEnv, "", []string{"--config", routes}},
		{"no route", with(baseEnv, "PATH_INFO=/elsewhere"), "", []string{"--config", routes}},
		{"IIS de-duplication", with(baseEnv, "PATH_INFO=/app.cgi/users/7"), "", []string{"--config", iis}},
		{"NPH by name", with(baseEnv, "SCRIPT_NAME=/cgi-bin/nph-app"), "", nil},
		{"bad config", with(baseEnv, "GATEWAYD_CONFIG="+bad), "", nil},
		{"ISINDEX words", with(baseEnv, "QUERY_STRING=--config+/nonexistent.yaml"), "", []string{"--config", "/nonexistent.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, _ := runProgram(t, full, 20*time.Second, tc.env, tc.stdin, append([]string{"cgi"}, tc.args...)...)
			got, stderr := runProgram(t, lean, 20*time.Second, tc.env, tc.stdin, tc.args...)
			want, got = httpDate.ReplaceAllString(want, "\r\n"), httpDate.ReplaceAllString(got, "\r\n")
			if got != want || got == "" {
				t.Errorf("gatewayd-cgi answered\n%q\ngatewayd cgi\n%q\nstderr: %s", got, want, stderr)
			}
		})
	}
}
