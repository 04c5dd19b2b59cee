package scgi_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/protocol/scgi"
)

// The SCGI specification's example: a POST whose body asks the question,
// answered by an app that knows the answer.
func ExampleServer() {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		question, _ := io.ReadAll(r.Body)
		_ = question // "What is the answer to life?"
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "42")
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s := &scgi.Server{Handler: &handler.Handler{App: app}}
	go s.Serve(l)
	defer s.Shutdown(context.Background())

	// What nginx's scgi_pass would send.
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	io.WriteString(c, "70:CONTENT_LENGTH\x0027\x00SCGI\x001\x00REQUEST_METHOD\x00POST\x00REQUEST_URI\x00/deepthought\x00,")
	io.WriteString(c, "What is the answer to life?")
	answer, _ := io.ReadAll(c)
	fmt.Printf("%q\n", answer)
	// Output:
	// "Status: 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\n42"
}
