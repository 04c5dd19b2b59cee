package fcgiupstream_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/gatewayd/gatewayd/app/fcgiupstream"
)

func ExampleNew() {
	dir, _ := os.MkdirTemp("", "fcgi-example")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "hello.php"), []byte("<?php echo 'hello';"), 0o644)

	// A FastCGI application on a unix socket; in production, php-fpm.
	l, _ := net.Listen("unix", filepath.Join(dir, "app.sock"))
	defer l.Close()
	go fcgi.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "script %s, path %s", fcgi.ProcessEnv(r)["SCRIPT_FILENAME"][len(dir):], r.URL.Path)
	}))

	up, err := fcgiupstream.New(fcgiupstream.Config{
		Upstream: "unix:" + filepath.Join(dir, "app.sock"),
		Root:     dir,
		MaxConns: 4, // php-fpm's pm.max_children
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer up.Close()

	// gatewayd mounts the app with app/mount; plain net/http works too.
	rec := httptest.NewRecorder()
	up.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/hello.php/extra", nil))
	body, _ := io.ReadAll(rec.Body)
	fmt.Println(rec.Code, string(body))
	// Output: 200 script /hello.php, path /hello.php/extra
}
