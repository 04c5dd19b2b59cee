package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// answer is what a client gets back, reduced to what must not depend on the
// protocol: the status, the content headers and the body.
type answer struct {
	status int
	ctype  string
	length string
	body   string
}

// TestSameRequestFourWays is the house invariant: the same request sent over
// HTTP, FastCGI, SCGI and CGI reaches the app as the same environment and
// body, and the client gets the same status, headers and body back.
//
// The request goes over HTTP first; the environment the demo app reports for
// it is then what a web server sends over the other three protocols
// (FastCGI through libfcgi's cgi-fcgi, SCGI as a netstring, CGI as the
// process environment of the binary), with the same body.
func TestSameRequestFourWays(t *testing.T) {
	cgiFCGI := peertest.Need(t, "cgi-fcgi")
	bin := peertest.Gatewayd(t)
	httpAddr, scgiAddr := peertest.FreeAddr(t), peertest.FreeAddr(t)
	dir := peertest.Dir(t)
	sock := filepath.Join(dir, "fcgi.sock")
	cfg := peertest.WriteFile(t, dir, "gatewayd.yaml", fmt.Sprintf(`
listeners:
  - {protocol: http, address: "%s"}
  - {protocol: fastcgi, address: "unix:%s"}
  - {protocol: scgi, address: "%s"}
routes:
  - {prefix: /, app: demo}
  - {prefix: /app, app: demo}
metrics: {address: ""}
log: {access: false}
`, httpAddr, sock, scgiAddr))
	p := peertest.Start(t, exec.Command(bin, "serve", "--config", cfg))
	for _, a := range []string{httpAddr, "unix:" + sock, scgiAddr} {
		peertest.WaitReady(t, p, "gatewayd on "+a, peertest.Dial(a))
	}

	const body = "name=caf%C3%A9&n=42"
	req, _ := http.NewRequest("POST", "http://"+httpAddr+"/app/users/7%20x?sort=asc&q=%C3%A9", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "invariant/1")
	req.Header.Add("Accept", "text/plain")
	req.Header.Add("Accept", "text/html")
	req.Header.Set("Cookie", "a=1; b=2")
	req.Header.Set("Proxy", "http://evil:3128")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	viaHTTP := readAnswer(t, resp)
	env := demo.Parse(viaHTTP.body)
	if env["SCRIPT_NAME"] != "/app" || env["PATH_INFO"] != "/users/7 x" || env["CONTENT_LENGTH"] != strconv.Itoa(len(body)) {
		t.Fatalf("HTTP environment: %v", env)
	}
	// What the web server sends is the environment before routing: the
	// route moves /app from PATH_INFO to SCRIPT_NAME again on each protocol.
	sent := env.Clone()
	sent["SCRIPT_NAME"], sent["PATH_INFO"] = "", "/app/users/7 x"

	viaFCGI := fastcgiAnswer(t, cgiFCGI, "unix:"+sock, sent, body)
	viaSCGI := scgiAnswer(t, scgiAddr, sent, body)
	viaCGI := cgiAnswer(t, bin, sent, body)

	// Each protocol may add its own variables (FastCGI's role, SCGI's
	// version); nothing else may differ.
	own := map[string][]string{"FastCGI": {"FCGI_ROLE"}, "SCGI": {"SCGI"}, "CGI": nil}
	for name, got := range map[string]answer{"FastCGI": viaFCGI, "SCGI": viaSCGI, "CGI": viaCGI} {
		if got.status != viaHTTP.status || got.ctype != viaHTTP.ctype || got.length != strconv.Itoa(len(got.body)) {
			t.Errorf("%s answered %d %q length %q for %d bytes; HTTP %d %q", name, got.status, got.ctype,
				got.length, len(got.body), viaHTTP.status, viaHTTP.ctype)
		}
		gotEnv := demo.Parse(got.body)
		for _, k := range own[name] {
			if _, ok := gotEnv[k]; !ok {
				t.Errorf("%s: the protocol's own %s is missing", name, k)
			}
			delete(gotEnv, k)
		}
		if d := diffEnv(env, gotEnv); d != "" {
			t.Errorf("%s environment differs from HTTP's:\n%s", name, d)
		}
	}
	if _, ok := env["HTTP_PROXY"]; ok {
		t.Error("HTTP_PROXY reached the app")
	}
}

func readAnswer(t *testing.T, resp *http.Response) answer {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Length"), string(b)}
}

// gatewayAnswer parses a CGI-style response: Status and headers, then body.
func gatewayAnswer(t *testing.T, name string, raw []byte) answer {
	t.Helper()
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw)))
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("%s: bad response head: %v\n%q", name, err, raw)
	}
	code, _, _ := strings.Cut(h.Get("Status"), " ")
	status, _ := strconv.Atoi(code)
	rest, _ := io.ReadAll(tp.R)
	return answer{status, h.Get("Content-Type"), h.Get("Content-Length"), string(rest)}
}

func envList(env environ.Env) []string {
	var l []string
	for _, k := range env.Names() {
		l = append(l, k+"="+env[k])
	}
	return l
}

func fastcgiAnswer(t *testing.T, cgiFCGI, addr string, env environ.Env, body string) answer {
	t.Helper()
	cmd := exec.Command(cgiFCGI, "-bind", "-connect", strings.TrimPrefix(addr, "unix:"))
	cmd.Env = envList(env)
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cgi-fcgi: %v", err)
	}
	return gatewayAnswer(t, "FastCGI", out)
}

func scgiAnswer(t *testing.T, addr string, env environ.Env, body string) answer {
	t.Helper()
	var head bytes.Buffer
	// CONTENT_LENGTH first, SCGI=1, then the rest (SCGI 2008).
	fmt.Fprintf(&head, "CONTENT_LENGTH\x00%d\x00SCGI\x001\x00", len(body))
	names := env.Names()
	sort.Strings(names)
	for _, k := range names {
		if k != "CONTENT_LENGTH" {
			fmt.Fprintf(&head, "%s\x00%s\x00", k, env[k])
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "%d:%s,%s", head.Len(), head.Bytes(), body)
	out, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return gatewayAnswer(t, "SCGI", out)
}

func cgiAnswer(t *testing.T, bin string, env environ.Env, body string) answer {
	t.Helper()
	cfg := peertest.WriteFile(t, t.TempDir(), "cgi.yaml", "routes:\n  - {prefix: /, app: demo}\n  - {prefix: /app, app: demo}\n")
	cmd := exec.Command(bin)
	cmd.Env = append(envList(env), "GATEWAYD_CONFIG="+cfg)
	cmd.Stdin = strings.NewReader(body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("CGI: %v\n%s", err, stderr.String())
	}
	return gatewayAnswer(t, "CGI", out)
}

func diffEnv(want, got environ.Env) string {
	var b strings.Builder
	for _, k := range want.Names() {
		if got[k] != want[k] {
			fmt.Fprintf(&b, "  %s: HTTP %q, here %q\n", k, want[k], got[k])
		}
	}
	for _, k := range got.Names() {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "  %s: only here, %q\n", k, got[k])
		}
	}
	return b.String()
}
