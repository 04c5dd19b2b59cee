package gatewayd_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatewayd/gatewayd/core/handler"
	"github.com/gatewayd/gatewayd/protocol/fastcgi"
	"github.com/gatewayd/gatewayd/protocol/httpfront"
)

// fcgiGet sends one FastCGI GET (without keep-conn) on a new connection and
// returns the STDOUT stream.
func fcgiGet(addr, path string) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	record := func(b []byte, typ byte, content []byte) []byte {
		b = append(b, 1, typ, 0, 1, byte(len(content)>>8), byte(len(content)), 0, 0)
		return append(b, content...)
	}
	var params []byte
	for _, kv := range [][2]string{{"REQUEST_METHOD", "GET"}, {"SCRIPT_NAME", ""}, {"PATH_INFO", path},
		{"SERVER_NAME", "x"}, {"SERVER_PORT", "80"}, {"SERVER_PROTOCOL", "HTTP/1.1"}} {
		params = append(params, byte(len(kv[0])), byte(len(kv[1])))
		params = append(params, kv[0]+kv[1]...)
	}
	var req []byte
	req = record(req, 1, []byte{0, 1, 0, 0, 0, 0, 0, 0}) // BEGIN_REQUEST, responder
	req = record(req, 4, params)
	req = record(req, 4, nil)
	req = record(req, 5, nil)
	if _, err := c.Write(req); err != nil {
		return "", err
	}
	var stdout bytes.Buffer
	hdr := make([]byte, 8)
	for {
		if _, err := io.ReadFull(c, hdr); err != nil {
			return stdout.String(), err
		}
		n := int(binary.BigEndian.Uint16(hdr[4:6])) + int(hdr[6])
		content := make([]byte, n)
		if _, err := io.ReadFull(c, content); err != nil {
			return stdout.String(), err
		}
		switch hdr[1] {
		case 6:
			stdout.Write(content[:binary.BigEndian.Uint16(hdr[4:6])])
		case 3:
			return stdout.String(), nil
		}
	}
}

// TestOneHandlerTwoFrontEnds: a library user gives one *handler.Handler to
// an HTTP and a FastCGI front end. Each answers in its own form, at the same
// time; the front ends used to set OriginServer on the shared handler (a
// data race), and the one started last decided the form of both.
func TestOneHandlerTwoFrontEnds(t *testing.T) {
	h := &handler.Handler{
		App: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hi")
		}),
		ServerSoftware: "gatewayd/shared",
	}
	hs := &httpfront.Server{Handler: h}
	fs := &fastcgi.Server{Handler: h}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(hl)
	go fs.Serve(fl)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		fs.Shutdown(ctx)
	})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				resp, err := http.Get("http://" + hl.Addr().String() + "/")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.Header.Get("Server") != "gatewayd/shared" {
					t.Errorf("HTTP answer without the origin server's Server header: %v", resp.Header)
					return
				}
			}
		})
		wg.Go(func() {
			for range 10 {
				out, err := fcgiGet(fl.Addr().String(), "/")
				if err != nil {
					t.Error(err)
					return
				}
				if !strings.HasPrefix(out, "Status: 200 OK\r\n") || strings.Contains(out, "Server:") {
					t.Errorf("FastCGI answer not in gateway form: %q", out)
					return
				}
			}
		})
	}
	wg.Wait()
}
