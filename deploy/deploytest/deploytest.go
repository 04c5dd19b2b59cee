// Package deploytest holds what the tests of deploy/'s packagings (the .deb,
// the container image) share: the check that an installed gatewayd serves
// the demo app they configure. It sits here, not in internal/peertest,
// because it needs app/demo, and internal/ packages import no app.
package deploytest

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/app/demo"
)

// CheckDemo asks a gatewayd that serves the demo app (as the packages in
// deploy/ configure it) for one page over HTTP on httpAddr and one over
// FastCGI on fcgiAddr (host:port or a socket's path) through cgifcgi, the
// path of cgi-fcgi, and fails the test unless each answer is the demo's
// echo of that very request. output, if not nil, tells what the daemon
// wrote, for the failure message.
func CheckDemo(t testing.TB, cgifcgi, httpAddr, fcgiAddr string, output func() string) {
	t.Helper()
	said := func() string {
		if output == nil {
			return ""
		}
		return "\n" + output()
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + httpAddr + "/over-http?q=1")
	if err != nil {
		t.Fatalf("HTTP: %v%s", err, said())
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if env := demo.Parse(string(body)); err != nil || resp.StatusCode != 200 || env["PATH_INFO"] != "/over-http" || env["QUERY_STRING"] != "q=1" {
		t.Errorf("HTTP: %d %q %v", resp.StatusCode, body, err)
	}
	fc := exec.Command(cgifcgi, "-bind", "-connect", fcgiAddr)
	fc.Env = []string{"REQUEST_METHOD=GET", "SCRIPT_NAME=", "PATH_INFO=/over-fastcgi", "SERVER_NAME=localhost",
		"SERVER_PORT=80", "SERVER_PROTOCOL=HTTP/1.0", "QUERY_STRING="}
	out, err := fc.Output()
	if err != nil {
		t.Fatalf("cgi-fcgi: %v%s", err, said())
	}
	_, fbody, _ := strings.Cut(string(out), "\r\n\r\n")
	if env := demo.Parse(fbody); env["PATH_INFO"] != "/over-fastcgi" || env["FCGI_ROLE"] != "RESPONDER" {
		t.Errorf("FastCGI: %q", out)
	}
}
