package scgi

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/gatewayd/gatewayd/app/demo"
	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/gwtest"
	"github.com/gatewayd/gatewayd/internal/linger"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// serveOn runs a Server for app on l until the test ends.
func serveOn(t *testing.T, l net.Listener, app http.Handler) *Server {
	t.Helper()
	log := zaptest.NewLogger(t)
	s := &Server{Handler: &handler.Handler{App: app, Log: log}, Log: log}
	gwtest.Serve(t, s, l, ErrServerClosed)
	return s
}

// demoApp is the demo app, except that /echo/ answers with the request
// body, /early/ answers 413 without reading the body, and /broken/ sends its
// head and part of the body, then fails.
func demoApp() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/echo/") {
			// Read it all first: nginx stops sending the body once the
			// response has begun.
			b, err := io.ReadAll(r.Body)
			if err != nil {
				panic(err)
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(b)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/early/") {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			w.(http.Flusher).Flush() // no Content-Length: the close ends it
			io.WriteString(w, "too large")
			return
		}
		if strings.HasPrefix(r.URL.Path, "/broken/") {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", "100000")
			io.WriteString(w, strings.Repeat("x", 1000))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		demo.App{}.ServeHTTP(w, r)
	})
}

// listenFor opens a loopback TCP or unix socket listener and returns it with
// its address as nginx writes it: host:port or unix:/path.
func listenFor(t *testing.T, network string) (net.Listener, string) {
	t.Helper()
	if network == "unix" {
		sock := filepath.Join(peertest.Dir(t), "scgi.sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		return l, "unix:" + sock
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l, l.Addr().String()
}

func TestNginx(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			l, gw := listenFor(t, network)
			serveOn(t, l, demoApp())
			listen := peertest.FreeAddr(t)
			conf := peertest.Recipe(t, "nginx-scgi.conf", map[string]string{"LISTEN": listen, "GATEWAYD": gw})
			_, logDir := peertest.Nginx(t, conf, listen)
			base := "http://" + listen

			status, _, body, err := gwtest.TryFetch("GET", base+"/users/7%20x?q=1&r=2", "", map[string]string{"X-Custom": "a", "Proxy": "evil"})
			if err != nil || status != 200 || !strings.HasPrefix(body, "Hello world!\n\n") {
				t.Fatalf("GET: %d %q %v", status, body, err)
			}
			gwtest.CheckEnv(t, demo.Parse(body), map[string]string{
				"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/users/7 x",
				"QUERY_STRING": "q=1&r=2", "REQUEST_URI": "/users/7%20x?q=1&r=2", "DOCUMENT_URI": "/users/7 x",
				"SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1", "SCGI": "1",
				"HTTP_X_CUSTOM": "a", "REMOTE_ADDR": "127.0.0.1", "SERVER_PORT": listen[strings.LastIndexByte(listen, ':')+1:],
				"CONTENT_LENGTH": gwtest.Unset, "CONTENT_TYPE": gwtest.Unset, "HTTP_PROXY": gwtest.Unset,
				"HTTP_CONTENT_LENGTH": gwtest.Unset,
			})

			status, _, body, err = gwtest.TryFetch("POST", base+"/form", "a=1&b=2", map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
			if err != nil || status != 200 {
				t.Fatalf("POST: %d %q %v", status, body, err)
			}
			gwtest.CheckEnv(t, demo.Parse(body), map[string]string{
				"REQUEST_METHOD": "POST", "PATH_INFO": "/form", "CONTENT_LENGTH": "7",
				"CONTENT_TYPE":        "application/x-www-form-urlencoded",
				"HTTP_CONTENT_LENGTH": gwtest.Unset, "HTTP_CONTENT_TYPE": gwtest.Unset,
			})

			// A large body reaches the app whole.
			big := strings.Repeat("0123456789", 20000)
			status, _, body, err = gwtest.TryFetch("PUT", base+"/echo/", big, nil)
			if err != nil || status != 200 || body != big {
				t.Fatalf("PUT: %d, %d bytes back, %v", status, len(body), err)
			}

			// An answer before the body was read reaches the client at
			// once, though the body is larger than what is drained.
			start := time.Now()
			status, _, body, err = gwtest.TryFetch("PUT", base+"/early/", strings.Repeat("x", 1<<20), nil)
			if err != nil || status != 413 || body != "too large" {
				t.Errorf("early answer: %d %q %v\n%s", status, body, err, peertest.NginxErrorLog(logDir))
			}
			if d := time.Since(start); d > linger.Timeout/2 {
				t.Errorf("early answer took %v", d)
			}

			// A response the app breaks off reaches the client cut short,
			// and nginx saw an error, not a clean end.
			_, _, _, err = gwtest.TryFetch("GET", base+"/broken/", "", nil)
			if err == nil {
				t.Error("a broken-off response read as complete")
			}
			if network == "tcp" {
				if log := peertest.NginxErrorLog(logDir); !strings.Contains(log, "(104: Connection reset by peer)") {
					t.Errorf("nginx error log does not show the reset:\n%s", log)
				}
			}
		})
	}
}

func TestApache(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			l, url := listenFor(t, network)
			if network == "unix" {
				// Apache's workers run as www-data.
				if err := os.Chmod(l.Addr().String(), 0o666); err != nil {
					t.Fatal(err)
				}
				url = "unix:" + l.Addr().String() + "|scgi://localhost"
			} else {
				url = "scgi://" + url
			}
			serveOn(t, l, demoApp())
			listen := peertest.FreeAddr(t)
			conf := peertest.Recipe(t, "apache-scgi.conf", map[string]string{"GATEWAYD_URL": url})
			// KeepAlive Off (test only): Apache ends a broken-off response
			// without the last chunk and then keeps the client connection
			// for KeepAliveTimeout; off, the client sees the cut at once.
			peertest.Apache(t, listen, []string{"proxy", "proxy_scgi"}, conf+"\nKeepAlive Off\n")
			base := "http://" + listen

			status, _, body, err := gwtest.TryFetch("GET", base+"/users/7%20x?q=1", "", map[string]string{"X-Custom": "a"})
			if err != nil || status != 200 || !strings.HasPrefix(body, "Hello world!\n\n") {
				t.Fatalf("GET: %d %q %v", status, body, err)
			}
			gwtest.CheckEnv(t, demo.Parse(body), map[string]string{
				"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/users/7 x",
				"QUERY_STRING": "q=1", "REQUEST_URI": "/users/7%20x?q=1", "SERVER_PROTOCOL": "HTTP/1.1",
				"GATEWAY_INTERFACE": "CGI/1.1", "SCGI": "1", "HTTP_X_CUSTOM": "a", "REMOTE_ADDR": "127.0.0.1",
				"CONTENT_LENGTH": gwtest.Unset,
			})

			// Apache merges the slashes and drops the dot segment in the
			// SCRIPT_NAME it sends; it is still recognised as the whole path.
			status, _, body, err = gwtest.TryFetch("GET", base+"//a/./b%20c/", "", nil)
			if err != nil || status != 200 {
				t.Fatalf("GET: %d %q %v", status, body, err)
			}
			gwtest.CheckEnv(t, demo.Parse(body), map[string]string{"SCRIPT_NAME": "", "PATH_INFO": "/a/b c/", "REQUEST_URI": "//a/./b%20c/"})

			status, _, body, err = gwtest.TryFetch("POST", base+"/form", "a=1&b=2", map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
			if err != nil || status != 200 {
				t.Fatalf("POST: %d %q %v", status, body, err)
			}
			gwtest.CheckEnv(t, demo.Parse(body), map[string]string{
				"REQUEST_METHOD": "POST", "PATH_INFO": "/form", "SCRIPT_NAME": "", "CONTENT_LENGTH": "7",
				"CONTENT_TYPE": "application/x-www-form-urlencoded",
			})

			// Apache sends the whole body before it reads the answer; what
			// the app left unread is drained.
			status, _, body, err = gwtest.TryFetch("PUT", base+"/early/", strings.Repeat("x", 100000), nil)
			if err != nil || status != 413 || body != "too large" {
				t.Errorf("early answer: %d %q %v", status, body, err)
			}
			big := strings.Repeat("0123456789", 20000)
			status, _, body, err = gwtest.TryFetch("PUT", base+"/echo/", big, nil)
			if err != nil || status != 200 || body != big {
				t.Fatalf("PUT: %d, %d bytes back, %v", status, len(body), err)
			}

			// A response the app breaks off: over TCP the reset makes Apache
			// end its chunked answer without the last chunk. A unix socket
			// cannot be reset and Apache does not check the length, so there
			// the client cannot tell (docs/scgi.md).
			_, _, _, err = gwtest.TryFetch("GET", base+"/broken/", "", nil)
			if network == "tcp" && err == nil {
				t.Error("a broken-off response read as complete")
			}
		})
	}
}
