package main

import (
	"fmt"
	"io"
)

// runCGI is replaced by the CGI front end's wiring.
func runCGI(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "gatewayd: CGI mode is not built yet")
	return 1
}
