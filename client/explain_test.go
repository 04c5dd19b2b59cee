package client

import (
	"testing"

	"github.com/gatewayd/gatewayd/config"
)

// TestExplainServerSoftware: explain shows the SERVER_SOFTWARE each front
// end gives the app, server_software from the config, over HTTP as over
// SCGI (nginx's stock fastcgi_params send their own, which stands). It used
// to show "gatewayd" for HTTP, where the HTTP front end passes the config's
// value.
func TestExplainServerSoftware(t *testing.T) {
	cfg := &config.Config{ServerSoftware: "acme/1.0"}
	for p, want := range map[string]string{HTTP: "acme/1.0", SCGI: "acme/1.0", FastCGI: "nginx"} {
		x, err := Explain(cfg, ExplainRequest{URL: "/x", Protocol: p})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got := x.Env["SERVER_SOFTWARE"]; got != want {
			t.Errorf("%s: SERVER_SOFTWARE %q, want %q", p, got, want)
		}
	}
}

// TestExplainFrontEndRules: explain runs the front ends' own rules
// (core/environ.NormalizeSCGI, NormalizeFastCGI): SCGI's mandatory zero
// length goes for a GET and stays for a POST; FastCGI gets FCGI_ROLE.
func TestExplainFrontEndRules(t *testing.T) {
	cfg := &config.Config{}
	for _, tt := range []struct {
		protocol, method string
		name             string
		want             string // "" is unset
	}{
		{SCGI, "GET", "CONTENT_LENGTH", ""},
		{SCGI, "POST", "CONTENT_LENGTH", "0"},
		{FastCGI, "GET", "FCGI_ROLE", "RESPONDER"},
		{HTTP, "GET", "FCGI_ROLE", ""},
	} {
		x, err := Explain(cfg, ExplainRequest{URL: "/x", Protocol: tt.protocol, Method: tt.method})
		if err != nil {
			t.Fatalf("%s %s: %v", tt.protocol, tt.method, err)
		}
		if got := x.Env[tt.name]; got != tt.want {
			t.Errorf("%s %s: %s %q, want %q", tt.protocol, tt.method, tt.name, got, tt.want)
		}
	}
}
