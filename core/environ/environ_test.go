package environ

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestGuessScheme(t *testing.T) {
	for v, want := range map[string]string{
		"on": "https", "ON": "https", "1": "https", "yes": "https", "Yes": "https",
		"off": "http", "0": "http", "": "http", "true": "http", "no": "http",
	} {
		if got := GuessScheme(Env{"HTTPS": v}); got != want {
			t.Errorf("HTTPS=%q: %s, want %s", v, got, want)
		}
	}
	if got := GuessScheme(Env{}); got != "http" {
		t.Errorf("unset HTTPS: %s", got)
	}
}

// base is wsgiref's test environment for URL reconstruction.
func base(kv ...string) Env {
	e := Env{"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SCRIPT_NAME": "", "PATH_INFO": ""}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "<unset>" {
			delete(e, kv[i])
			continue
		}
		e[kv[i]] = kv[i+1]
	}
	return e
}

func TestApplicationURI(t *testing.T) {
	tests := []struct {
		env  Env
		want string
	}{
		{base(), "http://127.0.0.1/"},
		{base("SCRIPT_NAME", "/spammity/spam"), "http://127.0.0.1/spammity/spam"},
		{base("SCRIPT_NAME", "/spammity/sp am"), "http://127.0.0.1/spammity/sp%20am"},
		{base("HTTP_HOST", "www.example.com"), "http://www.example.com/"},
		{base("HTTP_HOST", "www.example.com:8080"), "http://www.example.com:8080/"},
		{base("SERVER_PORT", "8080"), "http://127.0.0.1:8080/"},
		{base("HTTPS", "on", "SERVER_PORT", "443"), "https://127.0.0.1/"},
		{base("HTTPS", "on", "SERVER_PORT", "80"), "https://127.0.0.1:80/"},
		{base("HTTPS", "yes", "SERVER_PORT", "8443"), "https://127.0.0.1:8443/"},
		// Non-ASCII bytes are quoted one by one, as Latin-1.
		{base("SCRIPT_NAME", "/caf\xc3\xa9"), "http://127.0.0.1/caf%C3%A9"},
		{base("SCRIPT_NAME", "/a;b=c"), "http://127.0.0.1/a%3Bb%3Dc"},
	}
	for _, tt := range tests {
		if got := ApplicationURI(tt.env); got != tt.want {
			t.Errorf("ApplicationURI(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestRequestURI(t *testing.T) {
	tests := []struct {
		env   Env
		query bool
		want  string
	}{
		{base(), true, "http://127.0.0.1/"},
		{base("SCRIPT_NAME", "/spammity/spam"), true, "http://127.0.0.1/spammity/spam"},
		{base("SCRIPT_NAME", "/spammity/spam", "PATH_INFO", "/"), true, "http://127.0.0.1/spammity/spam/"},
		{base("PATH_INFO", "/spammity/spam"), true, "http://127.0.0.1/spammity/spam"},
		{base("SCRIPT_NAME", "/a", "PATH_INFO", "/c d;e=f,g?h#i%"), true, "http://127.0.0.1/a/c%20d;e=f,g%3Fh%23i%25"},
		{base("PATH_INFO", "/c d;e=f,g?h#i%"), true, "http://127.0.0.1/c%20d;e=f,g%3Fh%23i%25"},
		{base("SCRIPT_NAME", "/spam", "QUERY_STRING", "say=ni"), true, "http://127.0.0.1/spam?say=ni"},
		{base("SCRIPT_NAME", "/spam", "QUERY_STRING", "say=ni"), false, "http://127.0.0.1/spam"},
		{base("SCRIPT_NAME", "/spam", "QUERY_STRING", ""), true, "http://127.0.0.1/spam"},
		{base("PATH_INFO", "/\xe4\xb8\xad"), true, "http://127.0.0.1/%E4%B8%AD"},
		// An already percent-encoded path is quoted again: PATH_INFO is decoded.
		{base("PATH_INFO", "/a%2Fb"), true, "http://127.0.0.1/a%252Fb"},
		{base("PATH_INFO", "/~user/_x.y-z"), true, "http://127.0.0.1/~user/_x.y-z"},
	}
	for _, tt := range tests {
		if got := RequestURI(tt.env, tt.query); got != tt.want {
			t.Errorf("RequestURI(%v, %v) = %q, want %q", tt.env, tt.query, got, tt.want)
		}
	}
}

func TestShiftPath(t *testing.T) {
	tests := []struct {
		sn, pi       string
		name         string
		ok           bool
		newSN, newPI string
	}{
		// The reference cases from wsgiref's test suite.
		{"", "", "", false, "", ""},
		{"", "/", "", true, "/", ""},
		{"/a", "/x/y", "x", true, "/a/x", "/y"},
		{"/a", "/x/", "x", true, "/a/x", "/"},
		{"/a", "/x", "x", true, "/a/x", ""},
		{"/a", "//", "", true, "/a/", ""},
		{"/a/b", "/../y", "..", true, "/a", "/y"},
		{"/a/b", "//y", "y", true, "/a/b/y", ""},
		{"/a/b", "/./y", "y", true, "/a/b/y", ""},
		{"/a/b", "/.", "", false, "/a/b", ""},
		{"/a/b", "/x//", "x", true, "/a/b/x", "/"},
		{"/a/b", "/x/.", "x", true, "/a/b/x", "/."},
		{"", "/x/y", "x", true, "/x", "/y"},
		{"/a", "/x/./y/../z", "x", true, "/a/x", "/y/../z"},
		{"", "/caf\xc3\xa9/menu", "caf\xc3\xa9", true, "/caf\xc3\xa9", "/menu"},
		{"", "/a%2Fb/c", "a%2Fb", true, "/a%2Fb", "/c"},
		{"/", "/x", "x", true, "//x", ""}, // Python keeps two leading slashes
		{"", "/..", "..", true, "", ""},
	}
	for _, tt := range tests {
		e := Env{"SCRIPT_NAME": tt.sn, "PATH_INFO": tt.pi}
		name, ok := ShiftPathInfo(e)
		if name != tt.name || ok != tt.ok || e["SCRIPT_NAME"] != tt.newSN || e["PATH_INFO"] != tt.newPI {
			t.Errorf("shift(%q, %q) = (%q, %v, %q, %q), want (%q, %v, %q, %q)",
				tt.sn, tt.pi, name, ok, e["SCRIPT_NAME"], e["PATH_INFO"], tt.name, tt.ok, tt.newSN, tt.newPI)
		}
	}
}

func TestShiftPathInfoEmptyLeavesEnvUnchanged(t *testing.T) {
	e := Env{"SCRIPT_NAME": "/keep"}
	if _, ok := ShiftPathInfo(e); ok {
		t.Fatal("shifted an empty PATH_INFO")
	}
	if _, set := e["PATH_INFO"]; set || e["SCRIPT_NAME"] != "/keep" {
		t.Errorf("env changed: %v", e)
	}
}

func TestSetupTestingDefaults(t *testing.T) {
	e := Env{}
	SetupTestingDefaults(e)
	want := map[string]string{
		"SERVER_NAME": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.0", "HTTP_HOST": "127.0.0.1",
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/", "SERVER_PORT": "80",
		"GATEWAY_INTERFACE": "CGI/1.1", "QUERY_STRING": "",
	}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("%s = %q, want %q", k, e[k], v)
		}
	}
	if got := RequestURI(e, true); got != "http://127.0.0.1/" {
		t.Errorf("request URI of the defaults = %q", got)
	}

	e = Env{"HTTPS": "on", "SERVER_NAME": "example.com", "PATH_INFO": "/x"}
	SetupTestingDefaults(e)
	if e["SERVER_PORT"] != "443" || e["HTTP_HOST"] != "example.com" {
		t.Errorf("https defaults: %v", e)
	}
	if _, ok := e["SCRIPT_NAME"]; ok {
		t.Errorf("SCRIPT_NAME set although PATH_INFO was: %v", e)
	}
	if e["PATH_INFO"] != "/x" {
		t.Errorf("PATH_INFO overwritten: %q", e["PATH_INFO"])
	}
}

func TestIsHopByHop(t *testing.T) {
	hop := []string{"Connection", "connection", "KEEP-ALIVE", "Proxy-Authenticate", "proxy-authorization", "TE", "Trailers", "Transfer-Encoding", "upgrade"}
	for _, h := range hop {
		if !IsHopByHop(h) {
			t.Errorf("%s is hop-by-hop", h)
		}
	}
	for _, h := range []string{"Content-Type", "Trailer", "Content-Length", "Keep", "Proxy", "Date", "Tea", ""} {
		if IsHopByHop(h) {
			t.Errorf("%s is not hop-by-hop", h)
		}
	}
}

func TestIISPathInfo(t *testing.T) {
	tests := []struct{ sn, pi, want string }{
		{"/app.cgi", "/app.cgi/users/7", "/users/7"},
		{"/app.cgi", "/app.cgi", ""},
		{"/app.cgi", "/app.cgi/", "/"},
		{"/app.cgi", "/users/7", "/users/7"},
		{"/app.cgi", "/app.cgiX/users", "/app.cgiX/users"},
		{"", "/x", "/x"},
		{"/a/b.cgi", "/a/b.cgi/c", "/c"},
	}
	for _, tt := range tests {
		e := Env{"SCRIPT_NAME": tt.sn, "PATH_INFO": tt.pi}
		changed := DedupIISPath(e)
		if e["PATH_INFO"] != tt.want || changed != (tt.want != tt.pi) {
			t.Errorf("dedup(%q, %q) = %q (changed %v), want %q", tt.sn, tt.pi, e["PATH_INFO"], changed, tt.want)
		}
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, safe, want string }{
		{"abc", "/", "abc"},
		{"/c d;e=f,g?h#i%", "/;=,", "/c%20d;e=f,g%3Fh%23i%25"},
		{"/c d;e=f,g?h#i%", "/", "/c%20d%3Be%3Df%2Cg%3Fh%23i%25"},
		{"\x00\xff~._-", "", "%00%FF~._-"},
		{"é", "/", "%C3%A9"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in, tt.safe); got != tt.want {
			t.Errorf("Quote(%q, %q) = %q, want %q", tt.in, tt.safe, got, tt.want)
		}
	}
}

func TestRequestFromEnv(t *testing.T) {
	e := Env{
		"REQUEST_METHOD": "POST", "SERVER_PROTOCOL": "HTTP/1.1",
		"SERVER_NAME": "example.com", "SERVER_PORT": "8443", "HTTPS": "on",
		"SCRIPT_NAME": "/app", "PATH_INFO": "/a b", "QUERY_STRING": "x=1&y=%20",
		"HTTP_USER_AGENT": "test", "HTTP_X_FORWARDED_FOR": "10.0.0.1", "HTTP_ACCEPT_ENCODING": "gzip",
		"CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "5",
		"REMOTE_ADDR": "192.0.2.7", "REMOTE_PORT": "5555",
	}
	r, err := e.Request(strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "POST" || r.Proto != "HTTP/1.1" || r.ProtoMajor != 1 || r.ProtoMinor != 1 {
		t.Errorf("method/proto: %s %s %d.%d", r.Method, r.Proto, r.ProtoMajor, r.ProtoMinor)
	}
	if r.URL.Path != "/app/a b" || r.URL.RawQuery != "x=1&y=%20" || r.RequestURI != "/app/a%20b?x=1&y=%20" {
		t.Errorf("URL %q %q, RequestURI %q", r.URL.Path, r.URL.RawQuery, r.RequestURI)
	}
	if r.Host != "example.com:8443" {
		t.Errorf("Host %q", r.Host)
	}
	if r.Header.Get("User-Agent") != "test" || r.Header.Get("X-Forwarded-For") != "10.0.0.1" ||
		r.Header.Get("Accept-Encoding") != "gzip" || r.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("headers %v", r.Header)
	}
	if r.ContentLength != 5 || r.RemoteAddr != "192.0.2.7:5555" || r.TLS == nil {
		t.Errorf("length %d remote %q tls %v", r.ContentLength, r.RemoteAddr, r.TLS)
	}
	body, _ := io.ReadAll(r.Body)
	if string(body) != "hello" {
		t.Errorf("body %q", body)
	}
	if got, ok := FromContext(r.Context()); !ok || got["PATH_INFO"] != "/a b" {
		t.Errorf("env not in the request context")
	}
}

func TestRequestPrefersRequestURI(t *testing.T) {
	e := Env{"REQUEST_METHOD": "GET", "REQUEST_URI": "/x%2Fy?q=1", "SCRIPT_NAME": "", "PATH_INFO": "/x/y",
		"HTTP_HOST": "h.example", "SERVER_NAME": "ignored", "SERVER_PORT": "81"}
	r, err := e.Request(nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.RequestURI != "/x%2Fy?q=1" || r.URL.EscapedPath() != "/x%2Fy" || r.URL.RawQuery != "q=1" || r.Host != "h.example" {
		t.Errorf("URL %v RequestURI %q Host %q", r.URL, r.RequestURI, r.Host)
	}
	if r.Body != http.NoBody || r.ContentLength != 0 || r.TLS != nil || r.Proto != "HTTP/1.0" {
		t.Errorf("body %v length %d tls %v proto %s", r.Body, r.ContentLength, r.TLS, r.Proto)
	}
}

func TestRequestErrors(t *testing.T) {
	if _, err := (Env{}).Request(nil); err != ErrNoMethod {
		t.Errorf("no method: %v", err)
	}
	if _, err := (Env{"REQUEST_METHOD": "GET", "CONTENT_LENGTH": "-1"}).Request(nil); err == nil {
		t.Error("negative CONTENT_LENGTH accepted")
	}
	if _, err := (Env{"REQUEST_METHOD": "GET", "CONTENT_LENGTH": "x"}).Request(nil); err == nil {
		t.Error("non-numeric CONTENT_LENGTH accepted")
	}
}

func TestFromRequest(t *testing.T) {
	r := httptest.NewRequest("POST", "http://example.com:8080/a%20b/c?q=1", strings.NewReader("body"))
	r.Header.Add("Cookie", "a=1")
	r.Header.Add("Cookie", "b=2")
	r.Header.Add("X-Multi", "1")
	r.Header.Add("X-Multi", "2")
	r.Header.Set("Proxy", "http://evil:8080")
	r.Header.Set("Authorization", "Basic eDp5")
	r.Header.Set("Content-Type", "text/plain")
	r.Header["X_Underscore"] = []string{"spoof"}
	r.RemoteAddr = "192.0.2.1:4321"
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, local))

	e := FromRequest(r, Options{ServerSoftware: "test/1"})
	want := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "test/1", "SERVER_PROTOCOL": "HTTP/1.1",
		"REQUEST_METHOD": "POST", "REQUEST_URI": "http://example.com:8080/a%20b/c?q=1", "SCRIPT_NAME": "",
		"PATH_INFO": "/a b/c", "QUERY_STRING": "q=1", "SERVER_NAME": "example.com", "SERVER_PORT": "8080",
		"SERVER_ADDR": "127.0.0.1", "REMOTE_ADDR": "192.0.2.1", "REMOTE_PORT": "4321",
		"CONTENT_LENGTH": "4", "CONTENT_TYPE": "text/plain", "HTTP_HOST": "example.com:8080",
		"HTTP_COOKIE": "a=1; b=2", "HTTP_X_MULTI": "1, 2",
	}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("%s = %q, want %q", k, e[k], v)
		}
	}
	for _, k := range []string{"HTTP_PROXY", "HTTP_AUTHORIZATION", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_X_UNDERSCORE", "HTTPS", "PATH_TRANSLATED"} {
		if v, ok := e[k]; ok {
			t.Errorf("%s = %q, must be unset", k, v)
		}
	}
	if len(e) != len(want) {
		t.Errorf("extra variables: %v", e.Names())
	}
	e = FromRequest(r, Options{PassAuthorization: true})
	if e["HTTP_AUTHORIZATION"] != "Basic eDp5" {
		t.Errorf("PassAuthorization: %q", e["HTTP_AUTHORIZATION"])
	}
	if _, ok := e["HTTP_PROXY"]; ok {
		t.Error("HTTP_PROXY produced with PassAuthorization")
	}
}

func TestFromRequestNoBody(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	e := FromRequest(r, Options{})
	if _, ok := e["CONTENT_LENGTH"]; ok {
		t.Errorf("CONTENT_LENGTH set for a request without a body: %q", e["CONTENT_LENGTH"])
	}
	if e["SERVER_PORT"] != "80" || e["SERVER_SOFTWARE"] != "gatewayd" {
		t.Errorf("defaults: port %q software %q", e["SERVER_PORT"], e["SERVER_SOFTWARE"])
	}
}

// TestRoundTrip checks that env → request → env keeps what a CGI server sets.
func TestRoundTrip(t *testing.T) {
	e := Env{
		"REQUEST_METHOD": "PUT", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_URI": "/p/q?z=9",
		"SCRIPT_NAME": "", "PATH_INFO": "/p/q", "QUERY_STRING": "z=9", "HTTP_HOST": "h:1",
		"HTTP_X_A": "b", "CONTENT_LENGTH": "3", "CONTENT_TYPE": "a/b",
		"REMOTE_ADDR": "10.1.2.3", "REMOTE_PORT": "7",
	}
	r, err := e.Request(strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	back := FromRequest(r, Options{})
	for k, v := range e {
		if back[k] != v {
			t.Errorf("%s: %q → %q", k, v, back[k])
		}
	}
}

func BenchmarkFromRequest(b *testing.B) {
	r := httptest.NewRequest("GET", "/hello?x=1", nil)
	r.Header.Set("User-Agent", "bench")
	r.Header.Set("Accept", "*/*")
	b.ReportAllocs()
	for b.Loop() {
		_ = FromRequest(r, Options{})
	}
}

func BenchmarkRequest(b *testing.B) {
	e := Env{"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_URI": "/hello?x=1",
		"SCRIPT_NAME": "", "PATH_INFO": "/hello", "QUERY_STRING": "x=1", "HTTP_HOST": "localhost",
		"HTTP_USER_AGENT": "bench", "HTTP_ACCEPT": "*/*", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "5000",
		"SERVER_NAME": "localhost", "SERVER_PORT": "80"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Request(nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDirectoryLocation(t *testing.T) {
	tests := []struct{ sn, dir, q, want string }{
		{"", "", "", "/"},
		{"/static", ".", "", "/static/"},
		{"/static", "docs", "", "/static/docs/"},
		{"/static", "a b/c", "x=1", "/static/a%20b/c/?x=1"},
		{"", "/evil.example", "", "/evil.example/"},
		{"//", "evil.example", "", "/evil.example/"},
	}
	for _, tt := range tests {
		if got := DirectoryLocation(tt.sn, tt.dir, tt.q); got != tt.want {
			t.Errorf("DirectoryLocation(%q, %q, %q) = %q, want %q", tt.sn, tt.dir, tt.q, got, tt.want)
		}
	}
}

// TestCommonHeaderTables: the allocation-free tables give exactly what the
// general path computes, both ways.
func TestCommonHeaderTables(t *testing.T) {
	for _, k := range commonHeaders {
		if c := textproto.CanonicalMIMEHeaderKey(k); c != k {
			t.Errorf("%q is not canonical (%q): net/http would never hand it over", k, c)
		}
		v := "HTTP_" + string(appendVarName(nil, k))
		if tables.toVar[k] != v {
			t.Errorf("%s → %q, computed %q", k, tables.toVar[k], v)
		}
		if got := headerKey(v[5:]); got != k {
			t.Errorf("%s → %q, want %q", v, got, k)
		}
	}
}

// A Host header without a port is the common case; splitting it must not
// cost an error allocation that a Host with a port does not.
func TestFromRequestHostWithoutPortAllocatesNoMore(t *testing.T) {
	req := func(host string) *http.Request {
		r := httptest.NewRequest("GET", "http://"+host+"/", nil)
		r.Host = host
		return r
	}
	for host, want := range map[string]string{"example.com": "example.com", "example.com:8080": "example.com", "[::1]": "::1", "[::1]:80": "::1"} {
		if got := FromRequest(req(host), Options{})["SERVER_NAME"]; got != want {
			t.Errorf("Host %q: SERVER_NAME %q, want %q", host, got, want)
		}
	}
	withPort, without := req("example.com:8080"), req("example.com")
	a := testing.AllocsPerRun(100, func() { FromRequest(withPort, Options{}) })
	b := testing.AllocsPerRun(100, func() { FromRequest(without, Options{}) })
	if b > a {
		t.Errorf("Host without a port: %v allocations, with one: %v", b, a)
	}
}

// A front end that splits its connection's address once (Options.Local)
// gets the same environment as one that leaves it to FromRequest, and two
// allocations fewer a request (the address formatted and split).
func TestFromRequestLocalSplitOnce(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8080}
	r := httptest.NewRequest("GET", "http://example.com/x", nil)
	r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, net.Addr(addr)))
	local := SplitLocal(addr)
	each := FromRequest(r, Options{})
	once := FromRequest(r, Options{Local: &local})
	if each["SERVER_ADDR"] != "10.1.2.3" || each["SERVER_PORT"] != "8080" || !maps.Equal(each, once) {
		t.Errorf("split each time %v\nsplit once %v", each, once)
	}
	a := testing.AllocsPerRun(100, func() { FromRequest(r, Options{}) })
	b := testing.AllocsPerRun(100, func() { FromRequest(r, Options{Local: &local}) })
	if b > a-2 {
		t.Errorf("with Local: %v allocations, without: %v", b, a)
	}
	if l := SplitLocal(&net.UnixAddr{Name: "/run/g.sock", Net: "unix"}); l != (Local{}) {
		t.Errorf("unix socket: %+v", l)
	}
}

// The header values of a request built from an environment share one
// backing array; an app that adds to one header must not overwrite another.
func TestRequestHeaderValuesIndependent(t *testing.T) {
	e := Env{"REQUEST_METHOD": "GET", "HTTP_ACCEPT": "*/*", "HTTP_USER_AGENT": "ua", "HTTP_X_A": "a",
		"HTTP_HOST": "example.org"}
	r, err := e.Request(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Accept", "User-Agent", "X-A"} {
		r.Header.Add(k, "added")
	}
	want := map[string][]string{"Accept": {"*/*", "added"}, "User-Agent": {"ua", "added"}, "X-A": {"a", "added"}}
	for k, v := range want {
		if got := r.Header[k]; !slices.Equal(got, v) {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if _, ok := r.Header["Host"]; ok || r.Host != "example.org" {
		t.Errorf("Host header %q, r.Host %q", r.Header["Host"], r.Host)
	}
}

// RequestInto builds the same request as RequestWithContext, in place.
func TestRequestInto(t *testing.T) {
	e := Env{"REQUEST_METHOD": "POST", "REQUEST_URI": "/a?b", "HTTP_ACCEPT": "*/*", "CONTENT_LENGTH": "3",
		"REMOTE_ADDR": "10.0.0.1", "REMOTE_PORT": "9", "HTTPS": "on", "HTTP_HOST": "h"}
	ctx := NewContext(context.Background(), e)
	want, err := e.RequestWithContext(ctx, strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	var got http.Request
	if err := e.RequestInto(ctx, &got, strings.NewReader("abc")); err != nil {
		t.Fatal(err)
	}
	if got.Context() != ctx || got.Method != want.Method || got.URL.String() != want.URL.String() ||
		got.RemoteAddr != want.RemoteAddr || got.ContentLength != want.ContentLength || got.TLS == nil ||
		got.Host != want.Host || !reflect.DeepEqual(got.Header, want.Header) {
		t.Errorf("RequestInto %+v\nRequestWithContext %+v", got, *want)
	}
	if err := (Env{}).RequestInto(ctx, &got, nil); !errors.Is(err, ErrNoMethod) {
		t.Errorf("no method: %v", err)
	}
}
