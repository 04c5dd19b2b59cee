//go:build unix

package static

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dotTree is tree with the dotfiles a deployed root tends to hold.
func dotTree(t *testing.T) string {
	t.Helper()
	root := tree(t)
	for name, s := range map[string]string{
		".env": "SECRET=1", ".git/config": "[core]", ".htaccess": "deny", "docs/.htpasswd": "u:x",
		".well-known/acme-challenge/tok": "tok", ".well-known/.hidden": "h", "site/.ssh/id": "key",
	} {
		p := filepath.Join(root, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(s), 0o644))
	}
	return root
}

func TestDotfiles(t *testing.T) {
	root := dotTree(t)
	deny, allow := newApp(t, root, true), newAllowApp(t, root)
	for _, tt := range []struct {
		path              string
		denied, allowed   int
		deniedBody, allow string
	}{
		{"/.env", 403, 200, "403 Forbidden\n", "SECRET=1"}, // the built-in error page, as for every other refusal
		{"/.git/config", 403, 200, "", "[core]"},
		{"/.git/", 403, 200, "", ""},
		{"/.htaccess", 403, 200, "", "deny"},
		{"/docs/.htpasswd", 403, 200, "", "u:x"},
		{"/site/.ssh/id", 403, 200, "", "key"},
		{"//./.env", 403, 200, "", "SECRET=1"},
		{"/.nothere", 403, 404, "", ""},
		{"/.well-known/acme-challenge/tok", 200, 200, "tok", "tok"},
		{"/.well-known/.hidden", 403, 200, "", "h"},
		{"/a.txt", 200, 200, content, content},
	} {
		resp, body := do(t, deny, get(tt.path))
		if resp.StatusCode != tt.denied || (tt.deniedBody != "" && body != tt.deniedBody) {
			t.Errorf("default %s: %d %q, want %d", tt.path, resp.StatusCode, body, tt.denied)
		}
		resp, body = do(t, allow, get(tt.path))
		if resp.StatusCode != tt.allowed || (tt.allow != "" && body != tt.allow) {
			t.Errorf("allow %s: %d %q, want %d", tt.path, resp.StatusCode, body, tt.allowed)
		}
	}
	// Listings leave dotfiles out unless they are served.
	_, body := do(t, deny, get("/"))
	if strings.Contains(body, ".env") || strings.Contains(body, ".git") || !strings.Contains(body, ".well-known/") {
		t.Errorf("default listing:\n%s", body)
	}
	_, body = do(t, allow, get("/"))
	if !strings.Contains(body, ".env") || !strings.Contains(body, ".git/") {
		t.Errorf("allow listing:\n%s", body)
	}
	_, body = do(t, deny, get("/docs/"))
	if strings.Contains(body, ".htpasswd") {
		t.Errorf("default listing of /docs/:\n%s", body)
	}
}

func newAllowApp(t *testing.T, root string) *Static {
	t.Helper()
	s, err := New(Config{Root: root, List: true, AllowDotfiles: true}, nil)
	must(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// TestRangeEdges: the Range cases where http.ServeContent alone answers
// wrongly, and their siblings, through the core.
func TestRangeEdges(t *testing.T) {
	root := tree(t)
	must(t, os.WriteFile(filepath.Join(root, "empty"), nil, 0o644))
	app := newApp(t, root, false)
	for _, tt := range []struct {
		name, path, rng string
		status          int
		crange, body    string
	}{
		{"zero suffix", "/a.txt", "bytes=-0", 416, "bytes */16", ""},
		{"zero suffix beside a good range", "/a.txt", "bytes=0-1,-0", 206, "bytes 0-1/16", "01"},
		{"a bad range beside a good one", "/a.txt", "bytes=0-1,x-y", 416, "bytes */16", ""},
		{"reversed", "/a.txt", "bytes=5-2", 416, "bytes */16", ""},
		{"huge end", "/a.txt", "bytes=3-99999999999999999999999", 206, "bytes 3-15/16", content[3:]},
		{"huge start", "/a.txt", "bytes=99999999999999999999999-", 416, "bytes */16", ""},
		{"huge suffix", "/a.txt", "bytes=-99999999999999999999999", 206, "bytes 0-15/16", content},
		{"other unit", "/a.txt", "items=0-1", 200, "", content},
		{"too many ranges", "/a.txt", "bytes=" + strings.Repeat("1-1,", maxRanges+1), 200, "", content},
		{"empty file 0-0", "/empty", "bytes=0-0", 200, "", ""},
		{"empty file zero suffix", "/empty", "bytes=-0", 200, "", ""},
		{"empty file suffix", "/empty", "bytes=-5", 200, "", ""},
	} {
		resp, body := do(t, app, get(tt.path, "HTTP_RANGE", tt.rng))
		if resp.StatusCode != tt.status || resp.Header.Get("Content-Range") != tt.crange ||
			(tt.status != 416 && body != tt.body) {
			t.Errorf("%s: %d %q %q, want %d %q %q", tt.name, resp.StatusCode,
				resp.Header.Get("Content-Range"), body, tt.status, tt.crange, tt.body)
		}
	}
	// Preconditions still come first: a matching If-None-Match is 304
	// whatever the range, a stale If-Range the whole file.
	resp, _ := do(t, app, get("/a.txt", "HTTP_RANGE", "bytes=-0", "HTTP_IF_NONE_MATCH", "*"))
	if resp.StatusCode != 304 {
		t.Errorf("If-None-Match with bytes=-0: %d, want 304", resp.StatusCode)
	}
	resp, body := do(t, app, get("/a.txt", "HTTP_RANGE", "bytes=-0", "HTTP_IF_RANGE", `"stale"`))
	if resp.StatusCode != 200 || body != content {
		t.Errorf("stale If-Range with bytes=-0: %d %q, want 200 and the file", resp.StatusCode, body)
	}
}
