package scgi

import (
	"maps"
	"testing"

	"github.com/gatewayd/gatewayd/core/environ"
)

func TestNormalize(t *testing.T) {
	base := func(kv ...string) environ.Env {
		e := environ.Env{"SCGI": "1", "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "x",
			"QUERY_STRING": "", "SERVER_NAME": "example.org"}
		for i := 0; i < len(kv); i += 2 {
			e[kv[i]] = kv[i+1]
		}
		return e
	}
	tests := []struct {
		name    string
		in, out environ.Env
	}{
		{
			name: "nginx stock scgi_params, GET",
			in: environ.Env{"CONTENT_LENGTH": "0", "SCGI": "1", "REQUEST_METHOD": "GET",
				"REQUEST_URI": "/a%20b/c?x=1", "QUERY_STRING": "x=1", "CONTENT_TYPE": "",
				"DOCUMENT_URI": "/a b/c", "DOCUMENT_ROOT": "/etc/nginx/html", "SERVER_PROTOCOL": "HTTP/1.1",
				"REQUEST_SCHEME": "http", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "5000",
				"SERVER_PORT": "8080", "SERVER_NAME": "", "HTTP_HOST": "localhost:8080"},
			out: environ.Env{"SCGI": "1", "REQUEST_METHOD": "GET",
				"REQUEST_URI": "/a%20b/c?x=1", "QUERY_STRING": "x=1",
				"DOCUMENT_URI": "/a b/c", "DOCUMENT_ROOT": "/etc/nginx/html", "SERVER_PROTOCOL": "HTTP/1.1",
				"REQUEST_SCHEME": "http", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "5000",
				"SERVER_PORT": "8080", "SERVER_NAME": "localhost", "HTTP_HOST": "localhost:8080",
				"SCRIPT_NAME": "", "PATH_INFO": "/a b/c", "GATEWAY_INTERFACE": "CGI/1.1",
				"SERVER_SOFTWARE": "gatewayd"},
		},
		{
			name: "nginx POST passes the client's Content-Length",
			in: base("CONTENT_LENGTH", "5", "REQUEST_METHOD", "POST", "CONTENT_TYPE", "text/plain",
				"HTTP_CONTENT_LENGTH", "5", "HTTP_CONTENT_TYPE", "text/plain", "REQUEST_URI", "/p"),
			out: base("CONTENT_LENGTH", "5", "REQUEST_METHOD", "POST", "CONTENT_TYPE", "text/plain",
				"REQUEST_URI", "/p", "SCRIPT_NAME", "", "PATH_INFO", "/p"),
		},
		{
			name: "explicit Content-Length: 0 on a DELETE (nginx)",
			in:   base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "DELETE", "HTTP_CONTENT_LENGTH", "0", "REQUEST_URI", "/"),
			out:  base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "DELETE", "REQUEST_URI", "/", "SCRIPT_NAME", "", "PATH_INFO", "/"),
		},
		{
			name: "empty POST keeps CONTENT_LENGTH 0 (Apache)",
			in:   base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "POST", "REQUEST_URI", "/"),
			out:  base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "POST", "REQUEST_URI", "/", "SCRIPT_NAME", "", "PATH_INFO", "/"),
		},
		{
			name: "chunked body that was empty",
			in:   base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "GET", "HTTP_TRANSFER_ENCODING", "chunked", "REQUEST_URI", "/"),
			out: base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "GET", "HTTP_TRANSFER_ENCODING", "chunked",
				"REQUEST_URI", "/", "SCRIPT_NAME", "", "PATH_INFO", "/"),
		},
		{
			name: "Apache mod_proxy_scgi: whole path in SCRIPT_NAME",
			in:   base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "HEAD", "REQUEST_URI", "/users/%37?q", "SCRIPT_NAME", "/users/7"),
			out: base("REQUEST_METHOD", "HEAD", "REQUEST_URI", "/users/%37?q", "SCRIPT_NAME", "",
				"PATH_INFO", "/users/7"),
		},
		{
			name: "Apache merged slashes",
			in:   base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "GET", "REQUEST_URI", "//a/./b/", "SCRIPT_NAME", "/a/b/"),
			out:  base("REQUEST_METHOD", "GET", "REQUEST_URI", "//a/./b/", "SCRIPT_NAME", "", "PATH_INFO", "/a/b/"),
		},
		{
			name: "a real mount is left alone",
			in:   base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "GET", "REQUEST_URI", "/app/x", "SCRIPT_NAME", "/app", "PATH_INFO", "/x"),
			out:  base("REQUEST_METHOD", "GET", "REQUEST_URI", "/app/x", "SCRIPT_NAME", "/app", "PATH_INFO", "/x"),
		},
		{
			name: "empty PATH_INFO sent by the server is kept",
			in:   base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "GET", "REQUEST_URI", "/app", "SCRIPT_NAME", "/app", "PATH_INFO", ""),
			out:  base("REQUEST_METHOD", "GET", "REQUEST_URI", "/app", "SCRIPT_NAME", "/app", "PATH_INFO", ""),
		},
		{
			name: "SCRIPT_NAME a leading part of the path stays, the rest is PATH_INFO",
			in:   base("CONTENT_LENGTH", "0", "REQUEST_METHOD", "GET", "REQUEST_URI", "/app/x", "SCRIPT_NAME", "/app"),
			out:  base("REQUEST_METHOD", "GET", "REQUEST_URI", "/app/x", "SCRIPT_NAME", "/app", "PATH_INFO", "/x"),
		},
		{
			name: "spec example: bare minimum",
			in:   environ.Env{"CONTENT_LENGTH": "27", "SCGI": "1", "REQUEST_METHOD": "POST", "REQUEST_URI": "/deepthought"},
			out: environ.Env{"CONTENT_LENGTH": "27", "SCGI": "1", "REQUEST_METHOD": "POST", "REQUEST_URI": "/deepthought",
				"SCRIPT_NAME": "", "PATH_INFO": "/deepthought", "GATEWAY_INTERFACE": "CGI/1.1",
				"SERVER_SOFTWARE": "gatewayd", "QUERY_STRING": ""},
		},
		{
			name: "query string from REQUEST_URI, bad escape leaves PATH_INFO unset",
			in:   environ.Env{"CONTENT_LENGTH": "0", "SCGI": "1", "REQUEST_METHOD": "GET", "REQUEST_URI": "/%zz?a=b"},
			out: environ.Env{"SCGI": "1", "REQUEST_METHOD": "GET", "REQUEST_URI": "/%zz?a=b",
				"SCRIPT_NAME": "", "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "gatewayd", "QUERY_STRING": "a=b"},
		},
		{
			name: "IPv6 Host for SERVER_NAME",
			in:   environ.Env{"CONTENT_LENGTH": "0", "SCGI": "1", "REQUEST_METHOD": "GET", "HTTP_HOST": "[::1]:8080", "PATH_INFO": "/"},
			out: environ.Env{"SCGI": "1", "REQUEST_METHOD": "GET", "HTTP_HOST": "[::1]:8080", "SERVER_NAME": "::1",
				"PATH_INFO": "/", "SCRIPT_NAME": "", "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "gatewayd", "QUERY_STRING": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.in.Clone()
			normalize(e, "")
			diffEnv(t, e, tt.out)
		})
	}
}

func TestNormalizeServerSoftware(t *testing.T) {
	e := environ.Env{"CONTENT_LENGTH": "0", "SCGI": "1"}
	normalize(e, "gatewayd/1.2")
	if e["SERVER_SOFTWARE"] != "gatewayd/1.2" {
		t.Errorf("SERVER_SOFTWARE = %q", e["SERVER_SOFTWARE"])
	}
	e = environ.Env{"CONTENT_LENGTH": "0", "SCGI": "1", "SERVER_SOFTWARE": "nginx"}
	normalize(e, "gatewayd/1.2")
	if e["SERVER_SOFTWARE"] != "nginx" {
		t.Errorf("SERVER_SOFTWARE = %q, want the web server's", e["SERVER_SOFTWARE"])
	}
}

// diffEnv reports every variable where got and want differ, set or not.
func diffEnv(t *testing.T, got, want environ.Env) {
	t.Helper()
	all := got.Clone()
	maps.Copy(all, want)
	for _, k := range all.Names() {
		g, gok := got[k]
		w, wok := want[k]
		if g != w || gok != wok {
			t.Errorf("%s = %q (set %v), want %q (set %v)", k, g, gok, w, wok)
		}
	}
}
