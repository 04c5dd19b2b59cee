// Package hello is the one application every Go side of the benchmark
// harness serves, so that a pair differs only in what sits in front of it.
package hello

import "net/http"

// Body is the whole answer, also what nginx, PHP, Python and the shell
// script of the harness send.
const Body = "Hello world!\n"

// bodyLength is len(Body) as text; hello_test.go keeps the two in step.
const bodyLength = "13"

// App answers every request 200 with Body as text/plain and an explicit
// Content-Length, so that no implementation has to buffer or chunk it.
type App struct{}

var _ http.Handler = App{}

func (App) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", bodyLength)
	_, _ = w.Write([]byte(Body))
}
