package cgiscript_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/gatewayd/gatewayd/app/cgiscript"
	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/core/handler"
)

// A Runner serving the scripts of a directory, run by the core for a
// request to /cgi-bin/hello.cgi that the router has shifted to
// SCRIPT_NAME /cgi-bin and PATH_INFO /hello.cgi.
func ExampleNew() {
	rn, err := cgiscript.New(cgiscript.Config{
		Root: "testdata",
		// The examples run as root in CI; a real deployment runs
		// gatewayd as an unprivileged user and leaves this false.
		AllowRoot: true,
	}, zap.NewNop())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rn.Shutdown(context.Background())

	env := environ.Env{
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/cgi-bin", "PATH_INFO": "/hello.cgi",
		"SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
	}
	h := &handler.Handler{App: rn}
	var out bytes.Buffer
	h.Serve(context.Background(), &handler.Request{Env: env}, &out)
	fmt.Print(strings.ReplaceAll(out.String(), "\r\n", "\n"))
	// Output:
	// Status: 200 OK
	// Content-Length: 6
	// Content-Type: text/plain
	//
	// hello
}
