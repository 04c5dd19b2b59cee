package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/internal/peertest"
)

// TestCGIGofastTransport: `gatewayd cgi` still offers transport: gofast,
// which the lean gatewayd-cgi leaves out; the gatewayd binary links it
// through routes.WithGofast.
func TestCGIGofastTransport(t *testing.T) {
	root, dir := peertest.Dir(t), peertest.Dir(t)
	peertest.WriteFile(t, root, "hello.php", `<?php header("X-Via: php"); echo "hello from ", $_SERVER["SCRIPT_NAME"];`)
	_, sock := peertest.PHPFPM(t, dir, 1)
	conf := peertest.WriteFile(t, dir, "gatewayd.yaml", "routes:\n  - prefix: /\n    app: fastcgi\n    transport: gofast\n"+
		"    upstream: unix:"+sock+"\n    root: "+root+"\nlog: {level: warn}\n")
	for k, v := range map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1",
		"SERVER_NAME": "localhost", "SERVER_PORT": "80", "SCRIPT_NAME": "", "PATH_INFO": "/hello.php",
		"QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1", "GATEWAYD_CONFIG": "",
	} {
		t.Setenv(k, v)
	}
	var out, errs bytes.Buffer
	code := run([]string{"cgi", "--config", conf}, &out, &errs)
	if code != 0 || !strings.HasPrefix(out.String(), "Status: 200 OK\r\n") ||
		!strings.Contains(out.String(), "X-Via: php\r\n") || !strings.HasSuffix(out.String(), "hello from /hello.php") {
		t.Fatalf("gatewayd cgi, transport gofast: exit %d\nstdout %q\nstderr %s", code, out.String(), errs.String())
	}
}
