package cgiscript

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/gatewayd/gatewayd/core/handler"
)

// TestReadHeadVariableSpelling: the names of Variable- fields keep the
// script's spelling, which the web server turns into variable names; every
// other name is canonical, as before.
func TestReadHeadVariableSpelling(t *testing.T) {
	in := "Variable-AUTH_USER: alice\nvariable-Gw_Tier: gold\nVARIABLE-x: 1\nx-other: 2\nVariable-: 3\n\n"
	h, err := readHead(bufio.NewReader(strings.NewReader(in)), 65536)
	if err != nil {
		t.Fatal(err)
	}
	want := http.Header{"Variable-AUTH_USER": {"alice"}, "variable-Gw_Tier": {"gold"}, "VARIABLE-x": {"1"},
		"X-Other": {"2"}, "Variable-": {"3"}}
	if !reflect.DeepEqual(h.header, want) {
		t.Errorf("header %v, want %v", h.header, want)
	}
}

// TestAuthorizerScript: a script behind a FastCGI Authorizer request sees
// FCGI_ROLE, and its Variable- names reach the web server byte-exact in
// gateway form ("Status:"), as FastCGI sends them.
func TestAuthorizerScript(t *testing.T) {
	for _, role := range []string{"AUTHORIZER", "RESPONDER", ""} {
		rn := newRunner(t, Config{}, nil)
		env, _ := requestEnv(t, "GET /authorizer.cgi HTTP/1.1\nHost: example.com\n\n")
		if role != "" {
			env["FCGI_ROLE"] = role
			env["FCGI_APACHE_ROLE"] = "AUTHENTICATOR"
		}
		h := &handler.Handler{App: rn, Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))}
		var out bytes.Buffer
		res := h.Serve(context.Background(), &handler.Request{Env: env, Protocol: "test"}, &out)
		if res.Err != nil {
			t.Fatalf("%s: %v", role, res.Err)
		}
		wantRole := role + " AUTHENTICATOR"
		if role == "" {
			wantRole = "unset unset"
		}
		for _, line := range []string{"Status: 200 OK\r\n", "\r\nVariable-AUTH_USER: alice\r\n",
			"\r\nvariable-Gw_Tier: gold\r\n", "\r\nVariable-ROLE: " + wantRole + "\r\n", "\r\nX-Other: 1\r\n"} {
			if !strings.Contains(out.String(), line) {
				t.Errorf("role %q: answer lacks %q:\n%s", role, line, out.String())
			}
		}
	}
}
