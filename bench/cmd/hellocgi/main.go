// Command hellocgi answers one CGI request with bench/internal/hello's
// handler through Go's net/http/cgi: the reference the harness times
// `gatewayd` in CGI mode against (go run ./bench -only cgi-startup).
package main

import (
	"fmt"
	"net/http/cgi"
	"os"

	"github.com/gatewayd/gatewayd/bench/internal/hello"
)

func main() {
	if err := cgi.Serve(hello.App{}); err != nil {
		fmt.Fprintf(os.Stderr, "hellocgi: %v\n", err)
		os.Exit(1)
	}
}
