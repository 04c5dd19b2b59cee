package scgi

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/core/handler"
)

// memConn is a connection whose input is a fixed request and whose output
// is counted and dropped: the benchmark measures the server, not the kernel.
type memConn struct {
	in  bytes.Reader
	out int
}

func (c *memConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *memConn) Write(p []byte) (int, error)      { c.out += len(p); return len(p), nil }
func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }
func (c *memConn) Reset(b []byte)                   { c.in.Reset(b); c.out = 0 }

var _ net.Conn = (*memConn)(nil)

// nginxHello is a GET as nginx's stock scgi_params send it.
var nginxHello = encodeHead(map[string]string{
	"CONTENT_LENGTH": "0", "SCGI": "1", "REQUEST_METHOD": "GET", "REQUEST_URI": "/hello?name=x",
	"QUERY_STRING": "name=x", "CONTENT_TYPE": "", "DOCUMENT_URI": "/hello", "DOCUMENT_ROOT": "/usr/share/nginx/html",
	"SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "http", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "51234",
	"SERVER_PORT": "8080", "SERVER_NAME": "localhost", "HTTP_HOST": "localhost",
	"HTTP_USER_AGENT": "wrk", "HTTP_ACCEPT": "*/*",
})

// BenchmarkServeHello serves one nginx-style request per iteration through
// the whole per-connection path: head, normalisation, core, response.
func BenchmarkServeHello(b *testing.B) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello world!\n")
	})
	s := &Server{Handler: &handler.Handler{App: app}}
	s.init()
	const answer = "Status: 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello world!\n"
	req := []byte(nginxHello)
	c := &memConn{}
	br := bufio.NewReaderSize(nil, readerSize)
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		c.Reset(req)
		br.Reset(c)
		s.serve(s.ctx, c, br)
	}
	if c.out != len(answer) {
		b.Fatalf("wrote %d bytes, want %d", c.out, len(answer))
	}
}
