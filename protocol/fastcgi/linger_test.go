package fastcgi

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/internal/peertest"
)

// unreadApp answers without reading the request body, as an app that
// refuses an upload does: /refuse with 413, anything else with 200.
type unreadApp struct{}

func (unreadApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	if strings.HasPrefix(r.URL.Path, "/refuse") {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, "too large\n")
		return
	}
	io.WriteString(w, "not read\n")
}

// TestNginxUnreadBodyLingeringClose: nginx without fastcgi_keep_conn sends a
// 256 KiB body the app never reads. Closing the connection while nginx
// still sends FCGI_STDIN reset it, and nginx answered 502 to a third to a
// half of such requests ("readv() failed (104: Connection reset by peer)").
// With the lingering close every one gets the app's answer.
func TestNginxUnreadBodyLingeringClose(t *testing.T) {
	peertest.Need(t, "nginx", "/usr/sbin/nginx")
	for _, unix := range []bool{false, true} {
		name := "tcp"
		if unix {
			name = "unix"
		}
		t.Run(name, func(t *testing.T) {
			s := &Server{Handler: &handler.Handler{App: unreadApp{}}, Log: zaptest.NewLogger(t)}
			gw := servePeer(t, s, unix)
			listen := peertest.FreeAddr(t)
			conf := peertest.Recipe(t, "nginx-fastcgi.conf", map[string]string{"LISTEN": listen, "GATEWAYD": gw})
			_, logDir := peertest.Nginx(t, conf, listen)

			body := bytes.Repeat([]byte("x"), 256<<10)
			client := &http.Client{Timeout: 10 * time.Second}
			deadline := time.Now().Add(90 * time.Second)
			for _, tc := range []struct {
				path   string
				n      int
				status int
				want   string
			}{{"/upload", 300, 200, "not read\n"}, {"/refuse", 100, 413, "too large\n"}} {
				failed, done := 0, 0
				for i := 0; i < tc.n && time.Now().Before(deadline); i++ {
					done++
					resp, err := client.Post("http://"+listen+tc.path, "application/octet-stream", bytes.NewReader(body))
					if err != nil {
						failed++
						t.Logf("POST %d: %v", i, err)
						continue
					}
					got, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != tc.status || string(got) != tc.want {
						failed++
						if failed <= 3 {
							t.Logf("POST %s %d: %d %q %v", tc.path, i, resp.StatusCode, got, err)
						}
					}
				}
				if failed > 0 {
					t.Errorf("%s: %d of %d POSTs of 256 KiB failed\n%s", tc.path, failed, done,
						peertest.NginxErrorLog(logDir))
				}
				if done < tc.n {
					t.Logf("%s: stopped at the time bound after %d of %d", tc.path, done, tc.n)
				}
			}
		})
	}
}
