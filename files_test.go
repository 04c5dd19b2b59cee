package gatewayd_test

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestStaticHardeningOverHTTP drives the static app through the daemon's
// real HTTP front end: dotfiles denied by default and served with
// "dotfiles: allow", and the Range requests http.ServeContent alone gets
// wrong (RFC 9110 section 14).
func TestStaticHardeningOverHTTP(t *testing.T) {
	bin := peertest.Gatewayd(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "www")
	const size = 1 << 20
	big := strings.Repeat("0123456789abcdef", size/16)
	for name, s := range map[string]string{
		"big.bin": big, "empty": "", ".env": "SECRET=1", ".git/config": "[core]", ".htaccess": "deny",
		"docs/.htpasswd": "u:x", ".well-known/acme-challenge/tok": "tok",
	} {
		peertest.WriteFile(t, root, name, s)
	}
	addr := peertest.FreeAddr(t)
	cfg := peertest.WriteFile(t, dir, "gatewayd.yaml", `
listeners:
  - {protocol: http, address: "`+addr+`"}
routes:
  - {prefix: /, app: static, root: "`+root+`", list: true}
  - {prefix: /open, app: static, root: "`+root+`", list: true, dotfiles: allow}
metrics: {address: ""}
log: {access: false}
`)
	p := peertest.Start(t, exec.Command(bin, "serve", "--config", cfg))
	peertest.WaitReady(t, p, "gatewayd", peertest.Dial(addr))
	base := "http://" + addr

	for _, tt := range []struct {
		path   string
		status int
		body   string
	}{
		{"/.env", 403, ""},
		{"/%2eenv", 403, ""},
		{"/.git/config", 403, ""},
		{"/.git/", 403, ""},
		{"/.htaccess", 403, ""},
		{"/docs/.htpasswd", 403, ""},
		{"/.well-known/acme-challenge/tok", 200, "tok"},
		{"/open/.env", 200, "SECRET=1"},
		{"/open/.git/config", 200, "[core]"},
		{"/open/docs/.htpasswd", 200, "u:x"},
	} {
		code, _, body := fetch(t, base+tt.path, nil)
		if code != tt.status || (tt.body != "" && body != tt.body) || strings.Contains(body, "SECRET") && tt.status == 403 {
			t.Errorf("GET %s: %d %q, want %d %q", tt.path, code, body, tt.status, tt.body)
		}
	}
	if _, _, body := fetch(t, base+"/", nil); strings.Contains(body, ".env") || !strings.Contains(body, ".well-known/") {
		t.Errorf("listing of / shows dotfiles, or hides .well-known:\n%s", body)
	}
	if _, _, body := fetch(t, base+"/open/", nil); !strings.Contains(body, ".env") {
		t.Errorf("listing of /open/ with dotfiles: allow lacks .env:\n%s", body)
	}

	total := "/" + strconv.Itoa(size)
	for _, tt := range []struct {
		name, path, rng string
		status          int
		crange          string
		length          int // body length; -1: not checked
	}{
		{"zero suffix", "/big.bin", "bytes=-0", 416, "bytes */" + strconv.Itoa(size), -1},
		{"zero suffix beside a good range", "/big.bin", "bytes=0-1,-0", 206, "bytes 0-1" + total, 2},
		{"one bad range among good ones", "/big.bin", "bytes=0-1,2-x", 416, "bytes */" + strconv.Itoa(size), -1},
		{"huge end", "/big.bin", "bytes=10-99999999999999999999", 206, "bytes 10-1048575" + total, size - 10},
		{"huge start", "/big.bin", "bytes=99999999999999999999-", 416, "bytes */" + strconv.Itoa(size), -1},
		{"too many ranges", "/big.bin", "bytes=" + strings.Repeat("0-0,", 1000), 200, "", size},
		{"empty file 0-0", "/empty", "bytes=0-0", 200, "", 0},
		{"empty file zero suffix", "/empty", "bytes=-0", 200, "", 0},
	} {
		code, h, body := fetch(t, base+tt.path, http.Header{"Range": {tt.rng}})
		if code != tt.status || h.Get("Content-Range") != tt.crange || (tt.length >= 0 && len(body) != tt.length) {
			t.Errorf("%s: %d Content-Range %q, %d bytes; want %d %q %d", tt.name, code, h.Get("Content-Range"),
				len(body), tt.status, tt.crange, tt.length)
		}
	}
}

// fetch GETs url with the given extra header fields.
func fetch(t *testing.T, url string, h http.Header) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}
