package static_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/gatewayd/gatewayd/app/static"
)

func ExampleNew() {
	dir, _ := os.MkdirTemp("", "static-example")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello\n"), 0o644)

	app, err := static.New(static.Config{Root: dir}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer app.Close()

	// gatewayd mounts the app with app/mount; plain net/http works too.
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/hello.txt", nil))
	fmt.Print(rec.Code, " ", rec.Header().Get("Content-Type"), " ", rec.Body.String())
	// Output: 200 text/plain; charset=utf-8 hello
}
