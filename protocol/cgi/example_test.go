package cgi_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/gatewayd/gatewayd/core/environ"
	"github.com/gatewayd/gatewayd/protocol/cgi"
)

// A CGI program's main is one call: cgi.Serve(app, cgi.Options{}).
// ServeEnv is the same with the environment and streams given, here as IIS
// would run the program, with its repeated path removed.
func ExampleServeEnv() {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env, _ := environ.FromContext(r.Context())
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "PATH_INFO=%s", env["PATH_INFO"])
	})
	env := environ.Env{
		"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "SERVER_NAME": "localhost",
		"SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
		"SCRIPT_NAME": "/app.cgi", "PATH_INFO": "/app.cgi/users/7",
	}
	var out strings.Builder
	err := cgi.ServeEnv(context.Background(), env, nil, &out, os.Stderr, app, cgi.Options{IISPathDedup: true})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", out.String())
	// Output:
	// "Status: 200 OK\r\nContent-Length: 18\r\nContent-Type: text/plain\r\n\r\nPATH_INFO=/users/7"
}
