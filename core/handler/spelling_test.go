package handler

import (
	"net/http"
	"testing"
)

// TestHeaderSpelling: header names go out as the app spelled them, so a
// FastCGI Authorizer's Variable-AUTH_USER, assigned to the map directly,
// reaches the web server byte-exact; a Status the app sets in any spelling
// is dropped rather than sent beside the core's own.
func TestHeaderSpelling(t *testing.T) {
	h := &Handler{App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Variable-AUTH_USER"] = []string{"alice"}
		w.Header()["status"] = []string{"200 OK"}
		w.Header()["STATUS"] = []string{"200 OK"}
		w.Header().Set("x-other", "1")
		w.WriteHeader(http.StatusForbidden)
	})}
	out, _ := serve(t, h, env("GET", "HTTP/1.1"), nil)
	want := "Status: 403 Forbidden\r\nContent-Length: 0\r\nVariable-AUTH_USER: alice\r\nX-Other: 1\r\n\r\n"
	if out != want {
		t.Errorf("got  %q\nwant %q", out, want)
	}
}

func TestCaseSensitiveHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"Variable-AUTH_USER": true, "variable-x": true, "VARIABLE-X": true,
		"Variable-": false, "Variable": false, "X-Variable-A": false, "Content-Type": false,
	} {
		if got := CaseSensitiveHeader(name); got != want {
			t.Errorf("CaseSensitiveHeader(%q) = %v, want %v", name, got, want)
		}
	}
}
