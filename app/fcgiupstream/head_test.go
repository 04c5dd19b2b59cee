package fcgiupstream

import (
	"net"
	"net/http"
	"slices"
	"testing"
)

// answering is an upstream that answers every request with stdout.
func answering(t *testing.T, stdout string) string {
	return rawUpstream(t, func(c net.Conn) {
		for {
			if _, _, err := readFCGIRequest(c); err != nil {
				return
			}
			ans := append(record(typeStdout, 1, []byte(stdout)), record(typeStdout, 1, nil)...)
			if _, err := c.Write(append(ans, endRequest(1, 0, 0)...)); err != nil {
				return
			}
		}
	})
}

// The native transport parses the upstream's head straight into the
// ResponseWriter's header map. A head that turns out bad half-way must not
// leave its first fields on the 502 page, hop-by-hop fields must not reach
// the client, a local redirect's Location must not reach the page it
// redirects to (native only: gofast passes the 302 on), and a header set
// before the upstream ran is replaced by the upstream's, not appended to.
func TestHeadIntoWriter(t *testing.T) {
	tests := []struct {
		name, stdout string
		preset       http.Header // set before the upstream runs
		status       int
		want         http.Header // nil: the header must not be there
	}{
		{name: "bad line after fields", stdout: "X-Early: 1\r\nContent-Type: text/plain\r\nno colon\r\n\r\nbody",
			status: http.StatusBadGateway, want: http.Header{"X-Early": nil}},
		{name: "no content type", stdout: "X-Early: 1\r\n\r\nbody",
			status: http.StatusBadGateway, want: http.Header{"X-Early": nil}},
		{name: "hop-by-hop", stdout: "Content-Type: text/plain\r\nConnection: x\r\nKeep-Alive: 1\r\nX-A: a\r\nX-A: b\r\nX-B: c\r\n\r\nbody",
			status: http.StatusOK, want: http.Header{"Connection": nil, "Keep-Alive": nil, "X-A": {"a", "b"}, "X-B": {"c"}}},
		{name: "local redirect", stdout: "Location: /other\r\n\r\n",
			status: http.StatusOK, want: http.Header{"Location": nil, "X-Target": {"yes"}}},
		{name: "preset replaced", stdout: "Content-Type: text/plain\r\nX-A: upstream\r\n\r\nbody",
			preset: http.Header{"X-A": {"preset"}, "X-P": {"kept"}},
			status: http.StatusOK, want: http.Header{"X-A": {"upstream"}, "X-P": {"kept"}}},
	}
	for _, tr := range transports {
		for _, tt := range tests {
			t.Run(tr+"/"+tt.name, func(t *testing.T) {
				if tr == TransportGofast && tt.name == "local redirect" {
					t.Skip("gofast does not follow local redirects")
				}
				sock := answering(t, tt.stdout)
				u := newUpstream(t, Config{Upstream: "unix:" + sock, Transport: tr})
				u.Redirect = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("X-Target", "yes")
					w.Header().Set("Content-Type", "text/plain")
					_, _ = w.Write([]byte("target"))
				})
				app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					for k, v := range tt.preset {
						w.Header()[k] = slices.Clone(v)
					}
					u.ServeHTTP(w, r)
				})
				res := serve(t, app, reqEnv("GET", "/app.php"), nil)
				if res.status != tt.status {
					t.Fatalf("status %d, want %d (%q)", res.status, tt.status, res.body)
				}
				for k, v := range tt.want {
					if got, ok := res.header[k]; v == nil && ok || v != nil && !slices.Equal(got, v) {
						t.Errorf("%s: %q, want %q", k, got, v)
					}
				}
			})
		}
	}
}
