package httpfront

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestNginxUnreadBodyNoReset: behind nginx's proxy_pass (a new upstream
// connection per request), an app that answers 413 without reading a 1 MiB
// body must reach the client every time. net/http's lingering close (shut
// the write side, then wait) does it; the front end's connection wrapper
// must keep CloseWrite for it, or the close becomes a reset and nginx a 502.
func TestNginxUnreadBodyNoReset(t *testing.T) {
	peertest.Need(t, "nginx", "/usr/sbin/nginx")
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, "too large\n")
	})
	addr := start(t, app)
	listen := peertest.FreeAddr(t)
	_, logDir := peertest.Nginx(t, `server {
    listen `+listen+`;
    client_max_body_size 2m;
    location / { proxy_pass http://`+addr+`; }
}`, listen)
	body := bytes.Repeat([]byte("x"), 1<<20)
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	failed, done := 0, 0
	for i := 0; i < 100 && time.Now().Before(deadline); i++ {
		done++
		resp, err := client.Post("http://"+listen+"/upload", "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			failed++
			continue
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 413 || string(got) != "too large\n" {
			failed++
			if failed <= 3 {
				t.Logf("POST %d: %d %q %v", i, resp.StatusCode, got, err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d POSTs of 1 MiB failed\n%s", failed, done, peertest.NginxErrorLog(logDir))
	}
}
