package fastcgi_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/yookoala/gofast"

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/protocol/fastcgi"
)

func ExampleServer() {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Hello from "+r.URL.Path+"\n")
	})
	s := &fastcgi.Server{Handler: &handler.Handler{App: app}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go s.Serve(l)
	defer s.Shutdown(context.Background())

	// A web server's side of one request, with gofast as the client.
	client, err := gofast.SimpleClientFactory(gofast.SimpleConnFactory("tcp", l.Addr().String()))()
	if err != nil {
		panic(err)
	}
	defer client.Close()
	req := gofast.NewRequest(nil)
	req.Params = map[string]string{
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/hello", "REQUEST_URI": "/hello",
		"SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
	}
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	resp.WriteTo(rec, io.Discard)
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output: 200 Hello from /hello
}
