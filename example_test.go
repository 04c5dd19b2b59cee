package gatewayd_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/gatewayd/gatewayd"
	"github.com/gatewayd/gatewayd/core/environ"
)

// hello is the application: an ordinary http.Handler. It may read the CGI
// environment the request arrived with.
func hello(w http.ResponseWriter, r *http.Request) {
	env, _ := environ.FromContext(r.Context())
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "hello from %s over %s\n", env["PATH_INFO"], env["GATEWAY_INTERFACE"])
}

// A program that serves its handler however it is deployed: as a CGI
// program under Apache or IIS, as a FastCGI child of mod_fcgid, on systemd's
// sockets, or standalone on 127.0.0.1:8000.
func ExampleServe() {
	// In func main:
	if err := gatewayd.Serve(http.HandlerFunc(hello)); err != nil {
		log.Fatal(err)
	}
}

// The same program run by a web server as a CGI program: the request comes
// from the environment and the answer goes to stdout in gateway form.
func ExampleServeWith_cgi() {
	// What Apache or IIS would set for GET /cgi-bin/app.cgi/world.
	for k, v := range map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "SCRIPT_NAME": "/cgi-bin/app.cgi",
		"PATH_INFO": "/world", "QUERY_STRING": "", "SERVER_NAME": "example.com", "SERVER_PORT": "80",
		"SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "192.0.2.1",
	} {
		os.Setenv(k, v)
		defer os.Unsetenv(k)
	}
	err := gatewayd.ServeWith(http.HandlerFunc(hello), gatewayd.Options{
		Stdin:  strings.NewReader(""),
		Stdout: lineEnds{os.Stdout}, // CRLF shown as LF in this example's output
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// Status: 200 OK
	// Content-Length: 31
	// Content-Type: text/plain
	//
	// hello from /world over CGI/1.1
}

type lineEnds struct{ w io.Writer }

func (l lineEnds) Write(p []byte) (int, error) {
	_, err := io.WriteString(l.w, strings.ReplaceAll(string(p), "\r\n", "\n"))
	return len(p), err
}
