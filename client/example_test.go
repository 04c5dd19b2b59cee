package client_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/fcgi"
	"os"
	"path/filepath"
	"time"

	"github.com/gatewayd/gatewayd/client"
)

// Send one request to a FastCGI application (here Go's net/http/fcgi on a
// unix socket) and read the answer, within a deadline.
func ExampleDo() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	l, _ := net.Listen("unix", filepath.Join(dir, "app.sock"))
	defer l.Close()
	go fcgi.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", fcgi.ProcessEnv(r)["SCRIPT_FILENAME"])
	}))

	t, _ := client.ParseTarget("fastcgi://" + l.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := client.Do(ctx, t, client.Request{Path: "/ping"}, os.Stdout)
	fmt.Println()
	fmt.Println(resp.Status, err, client.KindOf(err))
	// Output:
	// hello /ping
	// 200 <nil> ok
}

// A failure's Kind is the exit code of gatewayd request and probe.
func ExampleKindOf() {
	t, _ := client.ParseTarget("fastcgi:///nonexistent/php.sock")
	res := client.Probe(context.Background(), t, "", "", client.Request{})
	fmt.Println(res.Kind, res.ExitCode)
	// Output: connect 2
}
