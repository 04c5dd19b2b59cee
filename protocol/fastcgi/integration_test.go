package fastcgi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yookoala/gofast"
	"go.uber.org/zap/zaptest"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
	"github.com/gatewayd/gatewayd/internal/peertest"
	"github.com/gatewayd/gatewayd/listener"
)

// peerApp is the demo app, plus /echo that sends the request body back.
func peerApp() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", demo.App{})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		io.Copy(w, r.Body)
	})
	return mux
}

// startPeerServer serves the demo app on a TCP or unix listener and returns
// the address in nginx's spelling (127.0.0.1:port or unix:/path).
func startPeerServer(t *testing.T, unix bool, obs Observer) (string, *Server) {
	t.Helper()
	s := &Server{Handler: &handler.Handler{App: peerApp()}, Log: zaptest.NewLogger(t), Observer: obs}
	return servePeer(t, s, unix), s
}

// servePeer serves s until the test ends on a loopback TCP listener, or on
// a unix socket a web server's workers may use, and returns the address in
// nginx's spelling.
func servePeer(t *testing.T, s *Server, unix bool) string {
	t.Helper()
	addr := "127.0.0.1:0"
	if unix {
		addr = "unix:" + filepath.Join(peertest.Dir(t), "gatewayd.sock")
	}
	l, err := listener.Open(context.Background(), addr, listener.Options{SocketMode: 0o666})
	if err != nil {
		t.Fatal(err)
	}
	gwtest.Serve(t, s, l, ErrServerClosed)
	if unix {
		return addr
	}
	return l.Addr().String()
}

func TestNginx(t *testing.T) {
	peertest.Need(t, "nginx", "/usr/sbin/nginx")
	for _, tc := range []struct {
		name   string
		recipe string
		unix   bool
		keep   bool
	}{
		{"stock params tcp", "nginx-fastcgi.conf", false, false},
		{"stock params unix", "nginx-fastcgi.conf", true, false},
		{"keepalive tcp", "nginx-fastcgi-keepalive.conf", false, true},
		{"keepalive unix", "nginx-fastcgi-keepalive.conf", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := &countObserver{}
			gw, _ := startPeerServer(t, tc.unix, obs)
			listen := peertest.FreeAddr(t)
			conf := peertest.Recipe(t, tc.recipe, map[string]string{"LISTEN": listen, "GATEWAYD": gw})
			peertest.Nginx(t, conf, listen)
			base := "http://" + listen
			const n = 5
			for i := 0; i < n; i++ {
				status, hdr, body := gwtest.Fetch(t, http.MethodGet, base+"/some/path%20x?q=1&r=2", "", nil)
				if status != 200 || !strings.HasPrefix(body, "Hello world!\n\n") {
					t.Fatalf("status %d, body %q", status, body)
				}
				if i == 0 {
					t.Logf("the app's environment:\n%s", body)
				}
				if ct := hdr.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
				gwtest.CheckEnv(t, demo.Parse(body), map[string]string{
					"PATH_INFO":       "/some/path x",
					"SCRIPT_NAME":     "",
					"REQUEST_URI":     "/some/path%20x?q=1&r=2",
					"QUERY_STRING":    "q=1&r=2",
					"REQUEST_METHOD":  "GET",
					"SERVER_PROTOCOL": "HTTP/1.1",
					"FCGI_ROLE":       "RESPONDER",
					"REMOTE_ADDR":     "127.0.0.1",
					"CONTENT_LENGTH":  gwtest.Unset,
					"CONTENT_TYPE":    gwtest.Unset,
					"REMOTE_USER":     gwtest.Unset,
				})
			}
			// A body, through STDIN.
			payload := strings.Repeat("payload ", 20000)
			status, _, body := gwtest.Fetch(t, http.MethodPost, base+"/echo", payload, nil)
			if status != 200 || body != payload {
				t.Errorf("POST /echo: status %d, %d bytes back, want %d", status, len(body), len(payload))
			}
			status, _, body = gwtest.Fetch(t, http.MethodPost, base+"/form", "a=1", nil)
			gwtest.CheckEnv(t, demo.Parse(body), map[string]string{"CONTENT_LENGTH": "3", "REQUEST_METHOD": "POST"})
			if status != 200 {
				t.Errorf("POST status %d", status)
			}
			// Without keep-conn nginx opens a connection per request; with it
			// one connection carries them all.
			opened := obs.count("opened")
			if tc.keep && opened != 1 {
				t.Errorf("keepalive: %d connections for %d requests, want 1", opened, n+2)
			}
			if !tc.keep && opened != n+2 {
				t.Errorf("no keepalive: %d connections for %d requests", opened, n+2)
			}
		})
	}
}

func TestNginxSplitPathInfo(t *testing.T) {
	peertest.Need(t, "nginx", "/usr/sbin/nginx")
	gw, _ := startPeerServer(t, false, nil)
	listen := peertest.FreeAddr(t)
	conf := peertest.Recipe(t, "nginx-fastcgi-split.conf", map[string]string{"LISTEN": listen, "GATEWAYD": gw})
	peertest.Nginx(t, conf, listen)
	for path, want := range map[string][2]string{
		"/app/x/y?z=1": {"/app", "/x/y"},
		"/app":         {"/app", ""},
	} {
		status, _, body := gwtest.Fetch(t, http.MethodGet, "http://"+listen+path, "", nil)
		if status != 200 {
			t.Fatalf("%s: status %d %q", path, status, body)
		}
		gwtest.CheckEnv(t, demo.Parse(body), map[string]string{"SCRIPT_NAME": want[0], "PATH_INFO": want[1]})
	}
}

func TestApache(t *testing.T) {
	peertest.Need(t, "apache2", "/usr/sbin/apache2")
	for _, unix := range []bool{false, true} {
		name := map[bool]string{false: "tcp", true: "unix"}[unix]
		t.Run(name, func(t *testing.T) {
			obs := &countObserver{}
			gw, _ := startPeerServer(t, unix, obs)
			url := "fcgi://" + gw
			if unix {
				url = gw + "|fcgi://localhost"
			}
			listen := peertest.FreeAddr(t)
			conf := peertest.Recipe(t, "apache-fastcgi.conf", map[string]string{"GATEWAYD_URL": url})
			peertest.Apache(t, listen, []string{"proxy", "proxy_fcgi"}, conf)
			for i := 0; i < 3; i++ {
				status, _, body := gwtest.Fetch(t, http.MethodGet, "http://"+listen+"/some/path?q=1", "", nil)
				if status != 200 || !strings.HasPrefix(body, "Hello world!\n\n") {
					t.Fatalf("status %d, body %q", status, body)
				}
				if i == 0 {
					t.Logf("the app's environment:\n%s", body)
				}
				gwtest.CheckEnv(t, demo.Parse(body), map[string]string{
					"PATH_INFO":      "/some/path",
					"SCRIPT_NAME":    "",
					"QUERY_STRING":   "q=1",
					"REQUEST_METHOD": "GET",
					"FCGI_ROLE":      "RESPONDER",
				})
			}
			payload := strings.Repeat("apache ", 10000)
			status, _, body := gwtest.Fetch(t, http.MethodPost, "http://"+listen+"/echo", payload, nil)
			if status != 200 || body != payload {
				t.Errorf("POST /echo: status %d, %d bytes back, want %d", status, len(body), len(payload))
			}
		})
	}
}

func TestCGIFCGI(t *testing.T) {
	bin := peertest.Need(t, "cgi-fcgi")
	gw, _ := startPeerServer(t, false, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-bind", "-connect", gw)
	cmd.Env = []string{
		"GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=POST", "SCRIPT_NAME=/cgi", "PATH_INFO=/echo",
		"REQUEST_URI=/echo", "QUERY_STRING=", "SERVER_NAME=localhost", "SERVER_PORT=80",
		"SERVER_PROTOCOL=HTTP/1.0", "REMOTE_ADDR=127.0.0.1", "CONTENT_LENGTH=11",
		"CONTENT_TYPE=text/plain",
	}
	cmd.Stdin = strings.NewReader("hello world")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cgi-fcgi: %v\n%s", err, out)
	}
	if got := string(out); !strings.HasPrefix(got, "Status: 200 OK\r\n") || !strings.HasSuffix(got, "\r\n\r\nhello world") {
		t.Errorf("cgi-fcgi printed %q", got)
	}
	// The demo app with a GET.
	cmd = exec.CommandContext(ctx, bin, "-bind", "-connect", gw)
	cmd.Env = []string{"REQUEST_METHOD=GET", "SCRIPT_NAME=", "PATH_INFO=/env", "SERVER_NAME=localhost",
		"SERVER_PORT=80", "SERVER_PROTOCOL=HTTP/1.0", "QUERY_STRING=a=b"}
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("cgi-fcgi: %v\n%s", err, out)
	}
	_, body, _ := strings.Cut(string(out), "\r\n\r\n")
	gwtest.CheckEnv(t, demo.Parse(body), map[string]string{"PATH_INFO": "/env", "QUERY_STRING": "a=b", "SCRIPT_NAME": ""})
}

// gofast reads every record of its connection into the request it waits
// for, so it cannot multiplex; it runs requests one after another on one
// connection here, and concurrently on a connection each. Multiplexing on
// one connection is tested with testClient (TestMultiplexConcurrent).
func TestGofast(t *testing.T) {
	obs := &countObserver{}
	gw, _ := startPeerServer(t, false, obs)
	client, err := gofast.SimpleClientFactory(gofast.SimpleConnFactory("tcp", gw))()
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	do := func(c gofast.Client, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		req := gofast.NewRequest(nil)
		req.Params = map[string]string{
			"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "REQUEST_URI": path,
			"SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
			"QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1",
		}
		if body != "" {
			req.Params["REQUEST_METHOD"] = "POST"
			req.Params["CONTENT_LENGTH"] = itoa(len(body))
			req.Stdin = io.NopCloser(strings.NewReader(body))
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		var errBuf bytes.Buffer
		if err := resp.WriteTo(rec, &errBuf); err != nil {
			t.Fatalf("%s: %v %s", path, err, errBuf.String())
		}
		return rec
	}
	for i := 0; i < 5; i++ {
		rec := do(client, "/seq/"+itoa(i), "")
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
		gwtest.CheckEnv(t, demo.Parse(rec.Body.String()), map[string]string{"PATH_INFO": "/seq/" + itoa(i), "FCGI_ROLE": "RESPONDER"})
	}
	if rec := do(client, "/echo", "via gofast"); rec.Body.String() != "via gofast" {
		t.Errorf("echo: %q", rec.Body.String())
	}
	if n := obs.count("opened"); n != 1 {
		t.Errorf("%d connections for sequential requests on one client", n)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := gofast.SimpleClientFactory(gofast.SimpleConnFactory("tcp", gw))()
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if rec := do(c, "/echo", strings.Repeat("x", 1000*(i+1))); rec.Body.Len() != 1000*(i+1) {
				t.Errorf("concurrent %d: %d bytes", i, rec.Body.Len())
			}
		}()
	}
	wg.Wait()
}

// Many requests multiplexed on one connection at once, bodies interleaved.
func TestMultiplexConcurrent(t *testing.T) {
	s := &Server{Handler: &handler.Handler{App: newTestApp()}, BodyBuffer: 4096, SpoolDir: t.TempDir()}
	c := dialTest(t, startServer(t, s))
	const n = 40
	bodies := make([][]byte, n+1)
	var out []byte
	for id := uint16(1); id <= n; id++ {
		bodies[id] = bytes.Repeat([]byte{byte('a' + id%26)}, int(id)*997)
		out = appendBeginRequest(out, id, roleResponder, flagKeepConn)
		out = appendRecord(out, typeParams, id, pairs(postParams("/echo", len(bodies[id]))))
		out = appendRecord(out, typeParams, id, nil)
	}
	// Interleave the bodies record by record.
	for off := 0; ; off += 1000 {
		more := false
		for id := uint16(1); id <= n; id++ {
			if off < len(bodies[id]) {
				more = true
				out = appendRecord(out, typeStdin, id, bodies[id][off:min(off+1000, len(bodies[id]))])
			} else if off < len(bodies[id])+1000 {
				out = appendRecord(out, typeStdin, id, nil)
			}
		}
		if !more {
			break
		}
	}
	go c.write(out)
	for id := uint16(1); id <= n; id++ {
		if r := c.wait(id, 20*time.Second); r.body() != string(bodies[id]) {
			t.Errorf("request %d: %d bytes back, want %d", id, len(r.body()), len(bodies[id]))
		}
	}
}
