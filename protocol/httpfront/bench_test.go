package httpfront

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
)

// BenchmarkServeHello: one keep-alive connection, a GET with a few headers,
// a small answer: what the front end's own work (the connection watch, the
// request checks, the write deadline) adds to net/http and the core.
func BenchmarkServeHello(b *testing.B) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello")
	})
	addr := start(b, app)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte("GET /hello HTTP/1.1\r\nHost: x\r\nUser-Agent: bench\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
