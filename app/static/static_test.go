//go:build unix

package static

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
)

var modTime = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

const content = "0123456789abcdef"

// tree makes a root with files, a directory with an index, one without, and
// links inside and outside; outside it a secret.
func tree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	write := func(name, s string) {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, modTime, modTime); err != nil {
			t.Fatal(err)
		}
	}
	write("secret.txt", "top secret")
	write("root/a.txt", content)
	write("root/page.html", "<p>hi</p>")
	write("root/site/index.html", "<h1>index</h1>")
	write("root/docs/b.txt", "b")
	write("root/docs/c d.txt", "c")
	write("root/docs/<x>.txt", "x")
	write("root/evil.example/index.html", "dir")
	must(t, os.Mkdir(filepath.Join(root, "docs", "sub"), 0o755))
	must(t, os.Symlink("../secret.txt", filepath.Join(root, "out")))
	must(t, os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(root, "absout")))
	must(t, os.Symlink(base, filepath.Join(root, "up")))
	must(t, os.Symlink("a.txt", filepath.Join(root, "in")))
	must(t, os.Symlink("../../secret.txt", filepath.Join(root, "docs", "leak")))
	must(t, os.Symlink("sub", filepath.Join(root, "docs", "sublink")))
	must(t, syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	return root
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newApp(t testing.TB, root string, list bool) *Static {
	t.Helper()
	s, err := New(Config{Root: root, List: list}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// do runs app through the core handler, as a front end would, with env
// (SCRIPT_NAME "" unless given) and returns the parsed response.
func do(t testing.TB, app http.Handler, env environ.Env) (*http.Response, string) {
	t.Helper()
	environ.SetupTestingDefaults(env)
	h := &handler.Handler{App: app, OriginServer: true}
	var out bytes.Buffer
	res := h.Serve(context.Background(), &handler.Request{Env: env, Protocol: "test"}, &out)
	if res.Err != nil {
		t.Fatalf("serve: %v", res.Err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(&out), &http.Request{Method: env["REQUEST_METHOD"]})
	if err != nil {
		t.Fatalf("reading the response: %v\n%s", err, out.String())
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func get(pathInfo string, kv ...string) environ.Env {
	e := environ.Env{"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": pathInfo}
	for i := 0; i+1 < len(kv); i += 2 {
		e[kv[i]] = kv[i+1]
	}
	return e
}

func TestGetFile(t *testing.T) {
	app := newApp(t, tree(t), false)
	fi, err := os.Stat(filepath.Join(app.dir, "a.txt"))
	must(t, err)
	tests := []struct {
		env      environ.Env
		ctype    string
		body     string
		etagFrom string
	}{
		{get("/a.txt"), "text/plain; charset=utf-8", content, "a.txt"},
		{get("/page.html"), "text/html; charset=utf-8", "<p>hi</p>", ""},
		{get("/in"), "text/plain; charset=utf-8", content, "a.txt"}, // a link inside the root
		{get("/a.txt", "SCRIPT_NAME", "/static"), "text/plain; charset=utf-8", content, ""},
		{get("//a.txt"), "text/plain; charset=utf-8", content, ""},
		{get("/./a.txt"), "text/plain; charset=utf-8", content, ""},
	}
	for _, tt := range tests {
		resp, body := do(t, app, tt.env)
		if resp.StatusCode != 200 || body != tt.body {
			t.Errorf("%s: %d %q, want 200 %q", tt.env["PATH_INFO"], resp.StatusCode, body, tt.body)
		}
		if got := resp.Header.Get("Content-Type"); got != tt.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tt.env["PATH_INFO"], got, tt.ctype)
		}
		if got := resp.Header.Get("Last-Modified"); tt.etagFrom != "" && got != modTime.Format(http.TimeFormat) {
			t.Errorf("Last-Modified %q", got)
		}
		if tt.etagFrom != "" && resp.Header.Get("Etag") != ETag(fi) {
			t.Errorf("ETag %q, want %q", resp.Header.Get("Etag"), ETag(fi))
		}
	}
	if want := `"17b8a23358908000-10"`; ETag(fi) != want {
		t.Errorf("ETag = %s, want %s", ETag(fi), want)
	}
}

func TestHead(t *testing.T) {
	app := newApp(t, tree(t), false)
	resp, body := do(t, app, get("/a.txt", "REQUEST_METHOD", "HEAD"))
	if resp.StatusCode != 200 || body != "" {
		t.Fatalf("HEAD: %d %q", resp.StatusCode, body)
	}
	if resp.ContentLength != int64(len(content)) || resp.Header.Get("Etag") == "" {
		t.Errorf("HEAD headers: %v", resp.Header)
	}
	resp, _ = do(t, app, get("/a.txt", "REQUEST_METHOD", "POST"))
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestRange(t *testing.T) {
	app := newApp(t, tree(t), false)
	resp, body := do(t, app, get("/a.txt", "HTTP_RANGE", "bytes=2-5"))
	if resp.StatusCode != 206 || body != "2345" || resp.Header.Get("Content-Range") != "bytes 2-5/16" {
		t.Errorf("single range: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = do(t, app, get("/a.txt", "HTTP_RANGE", "bytes=-3"))
	if resp.StatusCode != 206 || body != "def" {
		t.Errorf("suffix range: %d %q", resp.StatusCode, body)
	}
	resp, _ = do(t, app, get("/a.txt", "HTTP_RANGE", "bytes=100-200"))
	if resp.StatusCode != 416 || resp.Header.Get("Content-Range") != "bytes */16" {
		t.Errorf("unsatisfiable: %d %v", resp.StatusCode, resp.Header)
	}

	resp, body = do(t, app, get("/a.txt", "HTTP_RANGE", "bytes=0-1,10-12"))
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 206 || err != nil || mt != "multipart/byteranges" {
		t.Fatalf("multi range: %d %q %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		must(t, err)
		b, _ := io.ReadAll(p)
		parts = append(parts, p.Header.Get("Content-Range")+"="+string(b))
	}
	if want := "bytes 0-1/16=01|bytes 10-12/16=abc"; strings.Join(parts, "|") != want {
		t.Errorf("parts %q, want %q", strings.Join(parts, "|"), want)
	}
}

func TestConditional(t *testing.T) {
	app := newApp(t, tree(t), false)
	resp, _ := do(t, app, get("/a.txt"))
	etag := resp.Header.Get("Etag")
	later := modTime.Add(time.Hour).Format(http.TimeFormat)
	earlier := modTime.Add(-time.Hour).Format(http.TimeFormat)
	tests := []struct {
		kv     []string
		status int
		body   string
	}{
		{[]string{"HTTP_IF_NONE_MATCH", etag}, 304, ""},
		{[]string{"HTTP_IF_NONE_MATCH", `W/` + etag}, 304, ""}, // weak comparison
		{[]string{"HTTP_IF_NONE_MATCH", `"other"`}, 200, content},
		{[]string{"HTTP_IF_NONE_MATCH", "*"}, 304, ""},
		{[]string{"HTTP_IF_MODIFIED_SINCE", later}, 304, ""},
		{[]string{"HTTP_IF_MODIFIED_SINCE", earlier}, 200, content},
		// If-None-Match wins over If-Modified-Since.
		{[]string{"HTTP_IF_NONE_MATCH", `"other"`, "HTTP_IF_MODIFIED_SINCE", later}, 200, content},
		{[]string{"HTTP_IF_MATCH", `"other"`}, 412, ""},
		{[]string{"HTTP_IF_UNMODIFIED_SINCE", earlier}, 412, ""},
		{[]string{"HTTP_RANGE", "bytes=0-0", "HTTP_IF_RANGE", etag}, 206, "0"},
		{[]string{"HTTP_RANGE", "bytes=0-0", "HTTP_IF_RANGE", `"stale"`}, 200, content},
	}
	for _, tt := range tests {
		resp, body := do(t, app, get("/a.txt", tt.kv...))
		if resp.StatusCode != tt.status || (tt.status != 412 && body != tt.body) {
			t.Errorf("%v: %d %q, want %d %q", tt.kv, resp.StatusCode, body, tt.status, tt.body)
		}
		if tt.status == 304 && (resp.Header.Get("Etag") != etag || resp.Header.Get("Content-Type") != "") {
			t.Errorf("%v: 304 headers %v", tt.kv, resp.Header)
		}
	}
}

func TestTraversalRefused(t *testing.T) {
	root := tree(t)
	for _, list := range []bool{false, true} {
		app := newApp(t, root, list)
		tests := []struct {
			env    environ.Env
			status int
		}{
			{get("/../secret.txt"), 400},
			{get("/docs/../../secret.txt"), 400},
			{get("/.."), 400},
			{get("/docs/.."), 400},
			// %2e%2e reaches the app decoded, in PATH_INFO.
			{get("/../secret.txt", "REQUEST_URI", "/%2e%2e/secret.txt"), 400},
			{get("/../secret.txt", "SCRIPT_NAME", "/static", "REQUEST_URI", "/static/%2E%2E/secret.txt"), 400},
			// A REQUEST_URI is never read for the path.
			{get("/a.txt", "REQUEST_URI", "/%2e%2e/secret.txt"), 200},
			{get("/a.txt\x00.png"), 400},
			{get("/\x00"), 400},
			{get("/out"), 404},
			{get("/absout"), 404},
			{get("/up/secret.txt"), 404},
			{get("/up/"), 404},
			{get("/docs/leak"), 404},
			{get("//etc/passwd"), 404},
			{get("/etc/passwd"), 404},
			{get(filepath.Join(filepath.Dir(root), "secret.txt")), 404},
			{get("/fifo"), 404},
			{get("/a.txt/"), 404},
			{get("/missing"), 404},
		}
		for _, tt := range tests {
			resp, body := do(t, app, tt.env)
			if resp.StatusCode != tt.status {
				t.Errorf("list=%v %q: %d, want %d", list, tt.env["PATH_INFO"], resp.StatusCode, tt.status)
			}
			if strings.Contains(body, "top secret") || strings.Contains(body, "root:") {
				t.Errorf("%q leaked %q", tt.env["PATH_INFO"], body)
			}
		}
	}
}

func TestNoEnvironment(t *testing.T) {
	// Run under plain net/http, without the core: the URL path is used.
	app := newApp(t, tree(t), false)
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest("GET", "/a.txt", nil))
	if rec.Code != 200 || rec.Body.String() != content {
		t.Errorf("got %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/", nil)
	r.URL.Path = "/../secret.txt"
	app.ServeHTTP(rec, r)
	if rec.Code != 400 {
		t.Errorf("traversal without env: %d", rec.Code)
	}
}

func TestIndex(t *testing.T) {
	app := newApp(t, tree(t), false)
	resp, body := do(t, app, get("/site/"))
	if resp.StatusCode != 200 || body != "<h1>index</h1>" || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("index: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, _ = do(t, app, get("/site/", "HTTP_IF_NONE_MATCH", resp.Header.Get("Etag")))
	if resp.StatusCode != 304 {
		t.Errorf("index conditional: %d", resp.StatusCode)
	}
	redirects := []struct {
		env environ.Env
		loc string
	}{
		{get("/site"), "/site/"},
		{get("/site", "SCRIPT_NAME", "/static"), "/static/site/"},
		{get("/site", "SCRIPT_NAME", "/static", "QUERY_STRING", "a=1&b"), "/static/site/?a=1&b"},
		{get("", "SCRIPT_NAME", "/static"), "/static/"},
		{get(""), "/"},
		{get("/docs/sub"), "/docs/sub/"},
		{get("/docs/sublink"), "/docs/sublink/"},
		// Never a protocol-relative "//evil.example/": an open redirect.
		{get("//evil.example"), "/evil.example/"},
		{get("/evil.example", "SCRIPT_NAME", "/"), "/evil.example/"},
		{get("/./site"), "/site/"},
	}
	for _, tt := range redirects {
		resp, _ := do(t, app, tt.env)
		if resp.StatusCode != 301 || resp.Header.Get("Location") != tt.loc {
			t.Errorf("%q under %q: %d Location %q, want 301 %q", tt.env["PATH_INFO"], tt.env["SCRIPT_NAME"],
				resp.StatusCode, resp.Header.Get("Location"), tt.loc)
		}
	}
}

func TestListing(t *testing.T) {
	root := tree(t)
	off := newApp(t, root, false)
	for _, p := range []string{"/docs/", "/"} {
		if resp, _ := do(t, off, get(p)); resp.StatusCode != 403 {
			t.Errorf("listing off %s: %d, want 403", p, resp.StatusCode)
		}
	}
	on := newApp(t, root, true)
	resp, body := do(t, on, get("/docs/", "SCRIPT_NAME", "/static"))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("listing: %d %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{
		"<title>Index of /static/docs/</title>",
		`<a href="../">../</a>`,
		`<a href="./b.txt">b.txt</a>`,
		`<a href="./c%20d.txt">c d.txt</a>`,
		`<a href="./%3Cx%3E.txt">&lt;x&gt;.txt</a>`,
		`<a href="./sub/">sub/</a>`,
		`<a href="./sublink/">sublink/</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("listing lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "leak") {
		t.Errorf("listing shows a link out of the root:\n%s", body)
	}
	// A directory with an index is never listed.
	if _, body := do(t, on, get("/site/")); body != "<h1>index</h1>" {
		t.Errorf("index over listing: %q", body)
	}
	if _, body := do(t, on, get("/")); strings.Contains(body, `href="../"`) {
		t.Errorf("root listing links above the root:\n%s", body)
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Config{}, nil); err != ErrNoRoot {
		t.Errorf("empty root: %v", err)
	}
	if _, err := New(Config{Root: filepath.Join(t.TempDir(), "missing")}, nil); err == nil ||
		!strings.HasPrefix(err.Error(), "static: opening root: ") {
		t.Errorf("missing root: %v", err)
	}
}

func BenchmarkServeFile(b *testing.B) {
	dir := b.TempDir()
	must2(b, os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello, world\n"), 0o644))
	app, err := New(Config{Root: dir}, nil)
	must2(b, err)
	defer app.Close()
	h := &handler.Handler{App: app}
	env := get("/hello.txt")
	environ.SetupTestingDefaults(env)
	b.ReportAllocs()
	for b.Loop() {
		res := h.Serve(context.Background(), &handler.Request{Env: env}, io.Discard)
		if res.Status != 200 {
			b.Fatal(res.Status)
		}
	}
}

func must2(b *testing.B, err error) {
	if err != nil {
		b.Fatal(err)
	}
}

func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"/a.txt", "/../x", "//etc/passwd", "/a/./b/", "", "/\x00", "/..%2f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pathInfo string) {
		name, ok := cleanName(pathInfo)
		if !ok {
			return
		}
		if name == "" || strings.HasPrefix(name, "/") || strings.Contains("/"+name+"/", "/../") ||
			strings.IndexByte(name, 0) >= 0 || (name != "." && strings.Contains("/"+name+"/", "/./")) {
			t.Errorf("cleanName(%q) = %q", pathInfo, name)
		}
	})
}
