package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/internal/fcgiwire"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// gw runs gatewayd's command line in process and returns the exit code and
// what it wrote.
func gw(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errs bytes.Buffer
	code := run(args, &out, &errs)
	return code, out.String(), errs.String()
}

// want runs args and fails unless the exit code is code and stdout holds
// every one of parts.
func want(t *testing.T, code int, parts []string, args ...string) string {
	t.Helper()
	got, out, errs := gw(t, args...)
	if got != code {
		t.Fatalf("gatewayd %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, out, errs)
	}
	for _, p := range parts {
		if !strings.Contains(out, p) {
			t.Fatalf("gatewayd %s: stdout lacks %q:\n%s\nstderr: %s", strings.Join(args, " "), p, out, errs)
		}
	}
	return out
}

const phpInfo = `<?php
header("X-Script: info");
if (isset($_GET["code"])) { http_response_code((int)$_GET["code"]); }
foreach (["SCRIPT_NAME","SCRIPT_FILENAME","PATH_INFO","DOCUMENT_ROOT","QUERY_STRING","REQUEST_METHOD","CONTENT_LENGTH"] as $k) {
	echo $k, "=", $_SERVER[$k] ?? "(unset)", "\n";
}
echo "BODY=", file_get_contents("php://input"), "\n";
error_log("to stderr");
`

func TestClientPHPFPM(t *testing.T) {
	dir := peertest.Dir(t)
	www := filepath.Join(dir, "www")
	peertest.WriteFile(t, www, "info.php", phpInfo)
	_, sock := peertest.PHPFPM(t, dir, 2)
	target := "fastcgi://" + sock

	// FCGI_GET_VALUES, then php-fpm's ping.path (SCRIPT_NAME is the path).
	want(t, 0, []string{"ok " + target}, "probe", target)
	out := want(t, 0, nil, "probe", "--json", target)
	var res struct {
		OK     bool              `json:"ok"`
		Values map[string]string `json:"values"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.OK || res.Values["FCGI_MPXS_CONNS"] != "0" {
		t.Errorf("probe --json: %v %+v from %s", err, res, out)
	}
	want(t, 0, []string{"ok " + target + " /ping 200"}, "probe", target, "/ping")
	want(t, 4, nil, "probe", "--expect", "204", target, "/ping")

	// A page through --root: the script is looked up as the fastcgi app does.
	want(t, 0, []string{"HTTP/1.1 200 OK\r\n", "X-Script: info\r\n", "SCRIPT_NAME=/info.php\n",
		"SCRIPT_FILENAME=" + filepath.Join(www, "info.php") + "\n", "PATH_INFO=/extra\n", "QUERY_STRING=a=1\n"},
		"request", "-i", "--root", www, target, "/info.php/extra?a=1")
	// PHP's error_log() travels as FCGI_STDERR, and comes out on stderr.
	if code, _, errs := gw(t, "request", "--root", www, target, "/info.php"); code != 0 || !strings.Contains(errs, "to stderr") {
		t.Errorf("exit %d, stderr %q: want php's error_log line", code, errs)
	}
	// A POST body from a file, with its CONTENT_LENGTH.
	body := peertest.WriteFile(t, dir, "body.txt", "name=value&x=y")
	want(t, 0, []string{"REQUEST_METHOD=POST\n", "CONTENT_LENGTH=14\n", "BODY=name=value&x=y\n"},
		"request", "--root", www, "-d", "@"+body, target, "/info.php")
	// The root decides before anything is sent; --fail turns a 404 into 4.
	want(t, 4, nil, "request", "--root", www, target, "/missing.php")
	out = want(t, 4, nil, "request", "--fail", "--root", www, target, "/info.php?code=404")
	if out != "" {
		t.Errorf("--fail wrote the body: %q", out)
	}
	want(t, 0, []string{"SCRIPT_FILENAME=" + filepath.Join(www, "info.php") + "\n", "PATH_INFO=/x\n"},
		"request", "--env", "--root", www, target, "/info.php/x")
}

func TestClientFcgiwrap(t *testing.T) {
	dir := peertest.Dir(t)
	www := filepath.Join(dir, "cgi")
	script := peertest.WriteFile(t, www, "hello.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho \"hello $PATH_INFO $QUERY_STRING\"\n")
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	_, sock := peertest.Fcgiwrap(t, dir)
	want(t, 0, []string{"hello /p q=1\n"}, "request", "--root", www, "--ext", ".cgi", "fastcgi://"+sock, "/hello.cgi/p?q=1")
	want(t, 0, []string{"hello  \n"}, "request", "--param", "SCRIPT_FILENAME="+script, "fastcgi://"+sock, "/")
}

func TestClientUWSGISCGI(t *testing.T) {
	dir := peertest.Dir(t)
	app := peertest.WriteFile(t, dir, "app.py", `def application(env, start_response):
    body = env['wsgi.input'].read(int(env.get('CONTENT_LENGTH') or 0))
    status = '404 Not Found' if env['PATH_INFO'] == '/missing' else '200 OK'
    start_response(status, [('Content-Type', 'text/plain')])
    return [('%s %s %s %s' % (env['REQUEST_METHOD'], env['PATH_INFO'], env['QUERY_STRING'], body.decode())).encode()]
`)
	_, sock := peertest.UWSGISCGI(t, dir, app)
	target := "scgi://" + sock
	want(t, 0, []string{"HTTP/1.1 200 OK", "GET /a/b c=d "}, "request", "-i", target, "/a/b?c=d")
	want(t, 0, []string{"POST /p  42"}, "request", "-d", "42", target, "/p")
	want(t, 0, []string{"ok " + target + " / 200"}, "probe", target)
	want(t, 4, nil, "probe", target, "/missing")
}

func TestClientNetHTTPFcgi(t *testing.T) {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "go.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		_ = fcgi.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			env := fcgi.ProcessEnv(r)
			fmt.Fprintf(w, "%s %s script=%s", r.Method, r.URL.RequestURI(), env["SCRIPT_FILENAME"])
		}))
	}()
	target := "fastcgi://" + l.Addr().String()
	want(t, 0, []string{"ok " + target}, "probe", target)
	want(t, 0, []string{"GET /x?y=1 script=/x"}, "request", target, "/x?y=1")
}

// TestClientGatewayd talks to gatewayd's own FastCGI, SCGI and HTTP
// listeners: the demo app echoes the environment it got.
func TestClientGatewayd(t *testing.T) {
	bin := peertest.Gatewayd(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "fcgi.sock")
	scgiAddr, httpAddr := peertest.FreeAddr(t), peertest.FreeAddr(t)
	cfg := peertest.WriteFile(t, dir, "gatewayd.yaml", fmt.Sprintf(`
listeners:
  - {protocol: fastcgi, address: "unix:%s"}
  - {protocol: scgi, address: "%s"}
  - {protocol: http, address: "%s"}
routes:
  - {prefix: /, app: demo}
  - {prefix: /app, app: demo}
metrics: {address: ""}
log: {access: false}
`, sock, scgiAddr, httpAddr))
	p := peertest.Start(t, exec.Command(bin, "serve", "--config", cfg))
	for _, a := range []string{"unix:" + sock, scgiAddr, httpAddr} {
		peertest.WaitReady(t, p, "gatewayd on "+a, peertest.Dial(a))
	}
	for _, target := range []string{"fastcgi://" + sock, "scgi://" + scgiAddr, "http://" + httpAddr} {
		// The same request reaches the app as the same environment.
		want(t, 0, []string{"Hello world!", "SCRIPT_NAME=/app\n", "PATH_INFO=/x/y\n", "QUERY_STRING=q=1\n", "HTTP_X_TEST=yes\n"},
			"request", "-H", "X-Test: yes", target, "/app/x/y?q=1")
		want(t, 0, []string{"REQUEST_METHOD=PUT\n", "CONTENT_LENGTH=3\n"}, "request", "-X", "PUT", "-d", "abc", target, "/")
		want(t, 0, []string{"ok " + target}, "probe", target, "/")
	}
	want(t, 0, []string{"ok fastcgi://" + sock}, "probe", "fastcgi://"+sock)

	// -d @- reads the body from stdin.
	cmd := exec.Command(bin, "request", "-d", "@-", "fastcgi://"+sock, "/")
	cmd.Stdin = strings.NewReader("from stdin")
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "CONTENT_LENGTH=10\n") || !strings.Contains(string(out), "REQUEST_METHOD=POST\n") {
		t.Errorf("request -d @-: %v\n%s", err, out)
	}
}

func TestClientCGIScript(t *testing.T) {
	dir := t.TempDir()
	script := peertest.WriteFile(t, dir, "s.sh", "#!/bin/sh\nprintf 'Status: 201 Created\\nContent-Type: text/plain\\n\\n'\necho \"$REQUEST_METHOD $PATH_INFO $QUERY_STRING\"\ncat\necho oops >&2\n")
	if err := os.Chmod(script, 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errs := gw(t, "request", "-i", "-d", "in", "cgi://"+script, "/a/b?c=d")
	if code != 0 || !strings.HasPrefix(out, "HTTP/1.1 201 Created\r\n") || !strings.HasSuffix(out, "POST /a/b c=d\nin") ||
		!strings.Contains(errs, "oops\n") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errs)
	}
	slow := peertest.WriteFile(t, dir, "slow.sh", "#!/bin/sh\nexec sleep 30\n")
	_ = os.Chmod(slow, 0o755)
	start := time.Now()
	want(t, 3, nil, "request", "--timeout", "300ms", "cgi://"+slow, "/")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a slow script held request for %v with --timeout 300ms", d)
	}
}

// serveFake accepts connections on a new loopback listener and hands each
// to fn until the test ends.
func serveFake(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fn(c)
			}()
		}
	}()
	return l.Addr().String()
}

func TestClientBadTargets(t *testing.T) {
	free := peertest.FreeAddr(t)
	dir := t.TempDir()
	t.Run("nothing listening", func(t *testing.T) {
		for _, target := range []string{"fastcgi://" + free, "scgi://" + free, "http://" + free, "fastcgi://" + filepath.Join(dir, "none.sock")} {
			want(t, 2, nil, "request", target, "/")
			want(t, 2, []string{"connect "}, "probe", target)
		}
		want(t, 2, nil, "request", "cgi://"+filepath.Join(dir, "none.sh"), "/")
	})
	t.Run("usage", func(t *testing.T) {
		want(t, 1, nil, "request", "fastcgi://"+free)
		want(t, 1, nil, "request", "ftp://x:1", "/")
		want(t, 1, nil, "request", "--bogus", "fastcgi://"+free, "/")
		want(t, 1, nil, "request", "fastcgi://"+free, "no-slash")
		want(t, 1, nil, "probe", "--expect", "abc", "fastcgi://"+free)
		want(t, 1, nil, "request", "-H", "novalue", "fastcgi://"+free, "/")
	})
	t.Run("accepts and never answers", func(t *testing.T) {
		hold := make(chan struct{})
		t.Cleanup(func() { close(hold) })
		addr := serveFake(t, func(net.Conn) { <-hold })
		for _, args := range [][]string{
			{"request", "--timeout", "300ms", "fastcgi://" + addr, "/"},
			{"request", "--timeout", "300ms", "scgi://" + addr, "/"},
			{"request", "--timeout", "300ms", "http://" + addr, "/"},
			{"probe", "--timeout", "300ms", "fastcgi://" + addr},
			{"request", "--timeout", "300ms", "-d", "x", "fastcgi://" + addr, "/"},
		} {
			start := time.Now()
			want(t, 3, nil, args...)
			// The contract is --timeout + 100ms; the bound asserted is
			// generous because the test machine is shared.
			if d := time.Since(start); d > 300*time.Millisecond+2*time.Second {
				t.Errorf("%v: returned after %v", args, d)
			} else {
				t.Logf("%v: returned after %v", args[len(args)-2:], d)
			}
		}
	})
	t.Run("garbage", func(t *testing.T) {
		addr := serveFake(t, func(c net.Conn) {
			_, _ = c.Write([]byte("this is not a protocol at all\r\n\r\n"))
		})
		for _, target := range []string{"fastcgi://" + addr, "scgi://" + addr, "http://" + addr} {
			want(t, 5, nil, "request", target, "/")
			want(t, 5, []string{"protocol "}, "probe", target, "/")
		}
		want(t, 5, nil, "probe", "fastcgi://"+addr)
	})
	t.Run("endless body", func(t *testing.T) {
		sent := make(chan int64, 8)
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		fake := func(c net.Conn, head []byte, frame func([]byte) []byte) {
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(head); err != nil {
				return
			}
			var n int64
			defer func() { sent <- n }()
			for n < 1<<30 {
				m, err := c.Write(frame(chunk))
				n += int64(m)
				if err != nil {
					return
				}
			}
		}
		fcgiAddr := serveFake(t, func(c net.Conn) {
			fake(c, fcgiwire.AppendStream(nil, fcgiwire.TypeStdout, 1, []byte("Content-Type: text/plain\r\n\r\n")),
				func(p []byte) []byte { return fcgiwire.AppendStream(nil, fcgiwire.TypeStdout, 1, p) })
		})
		scgiAddr := serveFake(t, func(c net.Conn) {
			fake(c, []byte("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"), func(p []byte) []byte { return p })
		})
		for _, target := range []string{"fastcgi://" + fcgiAddr, "scgi://" + scgiAddr} {
			code, out, errs := gw(t, "request", "--max-bytes", "1048576", target, "/")
			if code != 5 || len(out) > 1<<20 || !strings.Contains(errs, "max-bytes") {
				t.Errorf("%s: exit %d, %d bytes out, stderr %q", target, code, len(out), errs)
			}
			if n := <-sent; n >= 1<<30 {
				t.Errorf("%s: the server wrote all %d bytes; the client did not stop reading", target, n)
			}
		}
	})
	t.Run("overloaded", func(t *testing.T) {
		// FCGI_OVERLOADED and FCGI_CANT_MPX_CONN from a FastCGI app, and a
		// 503 from an HTTP server, are exit 6.
		for _, ps := range []fcgiwire.ProtocolStatus{fcgiwire.Overloaded, fcgiwire.CantMpxConn} {
			addr := serveFake(t, func(c net.Conn) {
				buf := make([]byte, 4096)
				_, _ = c.Read(buf)
				_, _ = c.Write(fcgiwire.AppendEndRequest(nil, 1, 0, ps))
			})
			want(t, 6, []string{"overloaded "}, "probe", "fastcgi://"+addr, "/ping")
			want(t, 6, nil, "request", "fastcgi://"+addr, "/")
		}
		busy := serveFake(t, func(c net.Conn) {
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			_, _ = c.Write([]byte("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy"))
		})
		want(t, 6, nil, "probe", "http://"+busy)
		want(t, 6, nil, "request", "--fail", "http://"+busy, "/")
		want(t, 0, []string{"busy"}, "request", "http://"+busy, "/")
		want(t, 0, nil, "probe", "--expect", "503", "http://"+busy)
	})
	t.Run("permission denied", func(t *testing.T) { permissionDenied(t, dir) })
}

// TestClientPHPFPMOverloaded fills php-fpm: its one worker busy, its listen
// backlog full. On a unix socket the kernel then refuses at once (EAGAIN):
// probe says overloaded, exit 6.
func TestClientPHPFPMOverloaded(t *testing.T) {
	dir := peertest.Dir(t)
	www := filepath.Join(dir, "www")
	// The workers run as www-data: the flag goes in a directory they may write.
	flags := filepath.Join(dir, "flags")
	if err := os.Mkdir(flags, 0o777); err != nil || os.Chmod(flags, 0o777) != nil {
		t.Fatal(err)
	}
	started := filepath.Join(flags, "started")
	peertest.WriteFile(t, www, "sleep.php", "<?php touch('"+started+"'); sleep(10); echo 'done';\n")
	_, sock := peertest.PHPFPMWith(t, dir, peertest.PHPFPMOptions{Workers: 1, Pool: "listen.backlog = 0"})
	target := "fastcgi://" + sock
	// The readiness check's own connection may still wait in the one-slot
	// backlog until the worker has started.
	peertest.WaitReady(t, nil, "php-fpm's ping", func() error {
		if code, out, _ := gw(t, "probe", target, "/ping"); code != 0 {
			return errors.New(out)
		}
		return nil
	})

	// The worker takes this one and sleeps...
	busy := make(chan int, 1)
	go func() {
		code, _, _ := gw(t, "request", "--timeout", "2s", "--root", www, target, "/sleep.php")
		busy <- code
	}()
	// Only once the worker is held may the backlog be filled: a held
	// connection the worker took instead would leave room for the probe.
	peertest.WaitReady(t, nil, "the worker in sleep.php", func() error {
		_, err := os.Stat(started)
		return err
	})
	// ...and these wait in the backlog (0 means one, on Linux) until it
	// is full.
	deadline := time.Now().Add(10 * time.Second)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("unix", sock, 200*time.Millisecond)
		if err != nil {
			break
		}
		held = append(held, c)
	}
	code, out, _ := gw(t, "probe", "--timeout", "1s", target, "/ping")
	if code != 6 {
		t.Fatalf("probe of a full php-fpm: exit %d, want 6: %s", code, out)
	}
	t.Logf("%s (after %d connections held)", strings.TrimSpace(out), len(held))
	// The sleeping request timed out, or found the backlog full itself.
	if code := <-busy; code != 3 && code != 6 {
		t.Errorf("the request held by the busy worker: exit %d, want 3 or 6", code)
	}
}

func TestExplain(t *testing.T) {
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	peertest.WriteFile(t, www, "index.php", "<?php\n")
	peertest.WriteFile(t, www, "style.css", "x")
	cgi := filepath.Join(dir, "cgi")
	peertest.WriteFile(t, cgi, "s.sh", "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(cgi, "s.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	peertest.WriteFile(t, cgi, "plain.txt", "not a script\n")
	cfg := peertest.WriteFile(t, dir, "gatewayd.yaml", `
routes:
  - {prefix: /, app: demo}
  - {prefix: /php, app: fastcgi, upstream: "unix:/run/php.sock", root: "`+www+`"}
  - {prefix: /files, app: fastcgi, upstream: "unix:/run/php.sock", root: "`+www+`", static_files: true, dotfiles: allow}
  - {prefix: /cgi-bin, app: cgi, root: "`+cgi+`", allow_root: true}
`)
	peertest.WriteFile(t, www, ".env", "SECRET=x")
	ex := func(args ...string) []string { return append([]string{"explain", "--config", cfg}, args...) }
	// The same URL routes the same way whatever the protocol: the path rule
	// completes what nginx's stock params send.
	for _, proto := range []string{"http", "fastcgi", "scgi"} {
		want(t, 0, []string{"route        /php → fastcgi\n", "SCRIPT_NAME  \"/php/index.php\"\n", "PATH_INFO    \"/a/b\"\n",
			"upstream     unix:/run/php.sock\n", "script       " + filepath.Join(www, "index.php") + "\n",
			"  SCRIPT_FILENAME=" + filepath.Join(www, "index.php") + "\n", "  QUERY_STRING=x=1\n"},
			ex("--protocol", proto, "http://example.com/php/index.php/a/b?x=1")...)
	}
	out := want(t, 0, []string{"nginx sends (stock fastcgi_params", "  SCRIPT_NAME=/php/index.php/a/b\n", "  FCGI_ROLE=RESPONDER\n"},
		ex("--protocol", "fastcgi", "/php/index.php/a/b")...)
	if strings.Contains(out, "PATH_INFO=/php") {
		t.Errorf("the path rule left the mount in PATH_INFO:\n%s", out)
	}
	want(t, 0, []string{"answer       404 Not Found"}, ex("/php/missing.php")...)
	want(t, 0, []string{"answer       400 Bad Request"}, ex("/php/%2e%2e/x.php")...)
	want(t, 0, []string{"answer       301 Moved Permanently: a directory: redirect to /php/"}, ex("/php")...)
	// What the route's keys say about files that are not scripts and
	// dotfiles, as the fastcgi app answers them.
	want(t, 0, []string{"answer       403 Forbidden: not a script"}, ex("/php/style.css")...)
	want(t, 0, []string{"answer       403 Forbidden"}, ex("/php/.env")...)
	want(t, 0, []string{"file         " + filepath.Join(www, "style.css"), "static files answer"}, ex("/files/style.css")...)
	want(t, 0, []string{"file         " + filepath.Join(www, ".env")}, ex("/files/.env")...)
	want(t, 0, []string{"route        /cgi-bin → cgi\n", "script       " + filepath.Join(cgi, "s.sh") + "\n",
		"SCRIPT_NAME  \"/cgi-bin/s.sh\"\n", "PATH_INFO    \"/x\"\n", "  HTTP_X_A=b\n", "  REQUEST_METHOD=POST\n"},
		ex("-X", "POST", "-H", "X-A: b", "/cgi-bin/s.sh/x")...)
	// The cgi app's own choice: a file that is not executable is refused,
	// as the runner refuses it.
	want(t, 0, []string{"script       " + filepath.Join(cgi, "plain.txt") + "\n", "answer       403 Forbidden: not executable"},
		ex("/cgi-bin/plain.txt")...)
	want(t, 0, []string{"answer       404 Not Found"}, ex("/cgi-bin/missing.sh")...)
	want(t, 0, []string{"route        / → demo\n", "  HTTP_X_A=b\n", "  SCRIPT_NAME=/x\n"},
		ex("--param", "SCRIPT_NAME=/x", "--protocol", "fastcgi", "-H", "X-A: b", "/x")...)
	// A web server's own FCGI_ROLE reaches the app, as the FastCGI front
	// end leaves it.
	out = want(t, 0, []string{"  FCGI_ROLE=AUTHORIZER\n"}, ex("--param", "FCGI_ROLE=AUTHORIZER", "--protocol", "fastcgi", "/x")...)
	if strings.Contains(out, "FCGI_ROLE=RESPONDER") {
		t.Errorf("explain replaced the web server's FCGI_ROLE:\n%s", out)
	}
	// SCGI's mandatory CONTENT_LENGTH 0 is dropped, as the SCGI front end
	// drops it, unless the client sent a length of its own.
	for _, c := range []struct {
		args []string
		keep bool
	}{
		{[]string{"/x"}, false},
		{[]string{"-H", "Content-Length: 0", "/x"}, true},
		{[]string{"-X", "PUT", "/x"}, true},
	} {
		out = want(t, 0, nil, ex(append([]string{"--protocol", "scgi"}, c.args...)...)...)
		_, app, _ := strings.Cut(out, "the app gets:\n")
		if strings.Contains(app, "  CONTENT_LENGTH=0\n") != c.keep {
			t.Errorf("explain --protocol scgi %v: CONTENT_LENGTH kept %v, want %v:\n%s", c.args, !c.keep, c.keep, out)
		}
	}
	want(t, 1, nil, ex("--protocol", "gopher", "/")...)
	want(t, 1, nil, "explain", "--config", filepath.Join(dir, "missing.yaml"), "/")
	want(t, 0, []string{"route        / → demo\n"}, "explain", "/anything")
}

// TestProbeDocRecipes runs the Kubernetes and Docker probe commands shown
// in docs/probe.md against a real php-fpm (its address put in for
// 127.0.0.1:9000): what the docs tell people to run works.
func TestProbeDocRecipes(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(peertest.ModuleRoot(), "docs", "probe.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds [][]string
	for _, line := range strings.Split(string(doc), "\n") {
		_, list, ok := strings.Cut(line, `["gatewayd", `)
		if !ok {
			continue
		}
		var args []string
		if err := json.Unmarshal([]byte("["+list), &args); err != nil {
			t.Fatalf("docs/probe.md: %q: %v", line, err)
		}
		cmds = append(cmds, args)
	}
	if len(cmds) != 3 {
		t.Fatalf("docs/probe.md shows %d probe commands, want 3 (liveness, readiness, HEALTHCHECK)", len(cmds))
	}
	dir := peertest.Dir(t)
	_, sock := peertest.PHPFPM(t, dir, 1)
	for _, args := range cmds {
		for i, a := range args {
			args[i] = strings.ReplaceAll(a, "fastcgi://127.0.0.1:9000", "fastcgi://"+sock)
		}
		want(t, 0, []string{"ok fastcgi://" + sock}, args...)
	}
}

// TestRequestEnvIsGatewaydsEnv: what `request --root` sends a FastCGI
// application is what gatewayd's fastcgi app sends it for the same path.
// A net/http/fcgi application echoes its environment; it is asked once
// through gatewayd (HTTP front end, app: fastcgi) and once directly.
func TestRequestEnvIsGatewaydsEnv(t *testing.T) {
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	peertest.WriteFile(t, www, "index.php", "not run: the upstream is Go")
	l, err := net.Listen("unix", filepath.Join(dir, "app.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		_ = fcgi.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			env := fcgi.ProcessEnv(r)
			// net/http/fcgi keeps the request's own variables out of
			// ProcessEnv; put back those a script is found by.
			env["REQUEST_METHOD"], env["REQUEST_URI"] = r.Method, r.RequestURI
			for k, v := range env {
				fmt.Fprintf(w, "%s=%s\n", k, v)
			}
		}))
	}()
	bin := peertest.Gatewayd(t)
	httpAddr := peertest.FreeAddr(t)
	cfg := peertest.WriteFile(t, dir, "gatewayd.yaml", fmt.Sprintf(`
listeners:
  - {protocol: http, address: "%s"}
routes:
  - {prefix: /, app: fastcgi, upstream: "unix:%s", root: "%s"}
metrics: {address: ""}
log: {access: false}
`, httpAddr, l.Addr(), www))
	p := peertest.Start(t, exec.Command(bin, "serve", "--config", cfg))
	peertest.WaitReady(t, p, "gatewayd", peertest.Dial(httpAddr))

	parse := func(out string) map[string]string {
		m := map[string]string{}
		for _, line := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				m[k] = v
			}
		}
		return m
	}
	const path = "/index.php/extra/p?x=1&y=%20"
	via := parse(want(t, 0, nil, "request", "http://"+httpAddr, path))
	direct := parse(want(t, 0, nil, "request", "--root", www, "fastcgi://"+l.Addr().String(), path))
	for _, k := range []string{"SCRIPT_NAME", "SCRIPT_FILENAME", "PATH_INFO", "PATH_TRANSLATED", "DOCUMENT_ROOT",
		"QUERY_STRING", "REQUEST_URI", "REQUEST_METHOD", "GATEWAY_INTERFACE", "REDIRECT_STATUS", "SERVER_PROTOCOL"} {
		if via[k] != direct[k] {
			t.Errorf("%s: %q through gatewayd, %q from request --root", k, via[k], direct[k])
		}
	}
	if via["SCRIPT_FILENAME"] != filepath.Join(www, "index.php") {
		t.Errorf("SCRIPT_FILENAME %q", via["SCRIPT_FILENAME"])
	}
}

// TestExplainMatchesNginx: what explain --protocol fastcgi (scgi) says the
// app gets is what the app gets when a real nginx with the stock
// fastcgi_params (scgi_params), as in docs/recipes/nginx-fastcgi.conf
// (nginx-scgi.conf), sends the request to gatewayd. The demo app echoes
// its environment.
func TestExplainMatchesNginx(t *testing.T) {
	bin := peertest.Gatewayd(t)
	dir := t.TempDir()
	fsock, ssock := filepath.Join(dir, "fcgi.sock"), filepath.Join(dir, "scgi.sock")
	cfg := peertest.WriteFile(t, dir, "gatewayd.yaml", fmt.Sprintf(`
listeners:
  - {protocol: fastcgi, address: "unix:%s", socket_mode: "0666"}
  - {protocol: scgi, address: "unix:%s", socket_mode: "0666"}
routes:
  - {prefix: /, app: demo}
  - {prefix: /app, app: demo}
metrics: {address: ""}
log: {access: false}
`, fsock, ssock))
	gw := peertest.Start(t, exec.Command(bin, "serve", "--config", cfg))
	peertest.WaitReady(t, gw, "gatewayd", peertest.Dial("unix:"+fsock))
	peertest.WaitReady(t, gw, "gatewayd", peertest.Dial("unix:"+ssock))

	parse := func(out string) map[string]string {
		m := map[string]string{}
		for _, line := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
				m[k] = v
			}
		}
		return m
	}
	for _, proto := range []string{"fastcgi", "scgi"} {
		addr := peertest.FreeAddr(t)
		sock := map[string]string{"fastcgi": fsock, "scgi": ssock}[proto]
		peertest.Nginx(t, peertest.Recipe(t, "nginx-"+proto+".conf", map[string]string{"GATEWAYD": "unix:" + sock, "LISTEN": addr}), addr)
		for _, path := range []string{"/app/x/y?q=1", "/app", "/other/p%20q", "/"} {
			got := parse(want(t, 0, nil, "request", "http://"+addr, path))
			if path == "/app/x/y?q=1" && (got["SCRIPT_NAME"] != "/app" || got["PATH_INFO"] != "/x/y") {
				t.Fatalf("%s: the demo app through nginx got %v", proto, got)
			}
			out := want(t, 0, nil, "explain", "--config", cfg, "--protocol", proto, "http://"+addr+path)
			_, appGets, _ := strings.Cut(out, "the app gets:\n")
			said := parse(appGets)
			for _, k := range []string{"SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REQUEST_URI", "DOCUMENT_URI", "FCGI_ROLE",
				"REQUEST_METHOD", "CONTENT_LENGTH", "SERVER_NAME", "SERVER_PORT", "HTTP_HOST", "SERVER_PROTOCOL", "GATEWAY_INTERFACE"} {
				if got[k] != said[k] {
					t.Errorf("%s %s: %s is %q through nginx, explain says %q", proto, path, k, got[k], said[k])
				}
			}
		}
	}
}
