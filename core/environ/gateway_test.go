package environ

import "testing"

func TestNormalizeGatewayPaths(t *testing.T) {
	tests := []struct {
		name   string
		in     Env
		sn, pi string
	}{
		{"nginx fastcgi_params: whole path as SCRIPT_NAME",
			Env{"SCRIPT_NAME": "/app/users/7", "REQUEST_URI": "/app/users/7?x=1", "DOCUMENT_URI": "/app/users/7"}, "", "/app/users/7"},
		{"nginx scgi_params: no SCRIPT_NAME, DOCUMENT_URI",
			Env{"REQUEST_URI": "/a%20b/c?x=1", "DOCUMENT_URI": "/a b/c"}, "", "/a b/c"},
		{"only REQUEST_URI, decoded",
			Env{"REQUEST_URI": "/a%20b/c?x=1"}, "", "/a b/c"},
		{"fastcgi_split_path_info: PATH_INFO kept",
			Env{"SCRIPT_NAME": "/index.php", "PATH_INFO": "/users/7", "REQUEST_URI": "/index.php/users/7"}, "/index.php", "/users/7"},
		{"empty PATH_INFO sent is kept",
			Env{"SCRIPT_NAME": "/app", "PATH_INFO": "", "REQUEST_URI": "/app/x"}, "/app", ""},
		{"SCRIPT_NAME a leading segment: the rest is PATH_INFO",
			Env{"SCRIPT_NAME": "/app", "REQUEST_URI": "/app/users/7"}, "/app", "/users/7"},
		{"SCRIPT_NAME not on a segment boundary moves",
			Env{"SCRIPT_NAME": "/ap", "REQUEST_URI": "/app/users"}, "", "/ap"},
		{"Apache: SCRIPT_NAME the path with merged slashes",
			Env{"SCRIPT_NAME": "/a/b", "REQUEST_URI": "/a//b"}, "", "/a/b"},
		{"unrelated SCRIPT_NAME moves",
			Env{"SCRIPT_NAME": "/index.php", "REQUEST_URI": "/pretty/url"}, "", "/index.php"},
		{"SCRIPT_NAME and nothing else",
			Env{"SCRIPT_NAME": "/x"}, "", "/x"},
		{"nothing at all", Env{}, "", "<unset>"},
	}
	for _, tt := range tests {
		e := tt.in.Clone()
		NormalizeGateway(e, GatewayOptions{})
		pi, ok := e["PATH_INFO"]
		if !ok {
			pi = "<unset>"
		}
		if e["SCRIPT_NAME"] != tt.sn || pi != tt.pi {
			t.Errorf("%s: SCRIPT_NAME %q PATH_INFO %q, want %q %q", tt.name, e["SCRIPT_NAME"], pi, tt.sn, tt.pi)
		}
	}
	e := Env{"SCRIPT_NAME": "/whole/path"}
	NormalizeGateway(e, GatewayOptions{LiteralPaths: true})
	if _, ok := e["PATH_INFO"]; ok || e["SCRIPT_NAME"] != "/whole/path" {
		t.Errorf("LiteralPaths changed the paths: %v", e)
	}
}

func TestNormalizeGatewayFillsAndDrops(t *testing.T) {
	e := Env{"CONTENT_LENGTH": "", "CONTENT_TYPE": "", "REMOTE_USER": "", "AUTH_TYPE": "",
		"HTTP_CONTENT_LENGTH": "3", "HTTP_CONTENT_TYPE": "a/b", "REQUEST_URI": "/p?q=1", "HTTP_HOST": "[::1]:8080"}
	NormalizeGateway(e, GatewayOptions{ServerSoftware: "gw/1"})
	for _, k := range []string{"CONTENT_LENGTH", "CONTENT_TYPE", "REMOTE_USER", "AUTH_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE"} {
		if _, ok := e[k]; ok {
			t.Errorf("%s kept", k)
		}
	}
	want := map[string]string{"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "gw/1", "QUERY_STRING": "q=1", "SERVER_NAME": "::1", "PATH_INFO": "/p", "SCRIPT_NAME": ""}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("%s = %q, want %q", k, e[k], v)
		}
	}
	e = Env{"CONTENT_LENGTH": "5", "GATEWAY_INTERFACE": "CGI/1.0", "QUERY_STRING": "", "SERVER_NAME": "h"}
	NormalizeGateway(e, GatewayOptions{})
	if e["CONTENT_LENGTH"] != "5" || e["GATEWAY_INTERFACE"] != "CGI/1.0" || e["QUERY_STRING"] != "" || e["SERVER_NAME"] != "h" {
		t.Errorf("values the web server sent were changed: %v", e)
	}
}

// TestNormalizeSCGILength: SCGI sends CONTENT_LENGTH "0" for every request;
// it stays only where the client's own length stands behind it. The SCGI
// front end and `gatewayd explain` both run this rule.
func TestNormalizeSCGILength(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   Env
		keep bool
	}{
		{"GET without a body", Env{"CONTENT_LENGTH": "0", "REQUEST_METHOD": "GET"}, false},
		{"HEAD without a body", Env{"CONTENT_LENGTH": "0", "REQUEST_METHOD": "HEAD"}, false},
		{"the client's Content-Length: 0", Env{"CONTENT_LENGTH": "0", "REQUEST_METHOD": "DELETE", "HTTP_CONTENT_LENGTH": "0"}, true},
		{"an empty chunked body", Env{"CONTENT_LENGTH": "0", "REQUEST_METHOD": "GET", "HTTP_TRANSFER_ENCODING": "chunked"}, true},
		{"POST", Env{"CONTENT_LENGTH": "0", "REQUEST_METHOD": "POST"}, true},
		{"PUT", Env{"CONTENT_LENGTH": "0", "REQUEST_METHOD": "PUT"}, true},
		{"PATCH", Env{"CONTENT_LENGTH": "0", "REQUEST_METHOD": "PATCH"}, true},
	} {
		e := tt.in.Clone()
		NormalizeSCGI(e, GatewayOptions{})
		if _, kept := e["CONTENT_LENGTH"]; kept != tt.keep {
			t.Errorf("%s: CONTENT_LENGTH kept %v, want %v", tt.name, kept, tt.keep)
		}
		if e["GATEWAY_INTERFACE"] != "CGI/1.1" {
			t.Errorf("%s: the gateway rules did not run: %v", tt.name, e)
		}
	}
	e := Env{"CONTENT_LENGTH": "5", "REQUEST_METHOD": "GET"}
	NormalizeSCGI(e, GatewayOptions{})
	if e["CONTENT_LENGTH"] != "5" {
		t.Errorf("a length other than 0 changed: %v", e)
	}
}

// TestNormalizeFastCGIRole: FCGI_ROLE is the request's role unless the web
// server sent its own, which stands.
func TestNormalizeFastCGIRole(t *testing.T) {
	e := Env{"REQUEST_URI": "/x"}
	NormalizeFastCGI(e, GatewayOptions{}, "AUTHORIZER")
	if e["FCGI_ROLE"] != "AUTHORIZER" || e["PATH_INFO"] != "/x" {
		t.Errorf("role not set or gateway rules not run: %v", e)
	}
	e = Env{"FCGI_ROLE": "RESPONDER"}
	NormalizeFastCGI(e, GatewayOptions{}, "AUTHORIZER")
	if e["FCGI_ROLE"] != "RESPONDER" {
		t.Errorf("the web server's FCGI_ROLE replaced: %v", e)
	}
}
