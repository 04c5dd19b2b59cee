package client

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/internal/fcgiwire"
)

func TestReadHead(t *testing.T) {
	tests := []struct {
		in     string
		status int
		reason string
		kind   Kind
	}{
		{"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nx", 404, "", 0},
		{"Content-Type: text/plain\n\n", 200, "", 0},
		{"Location: http://x/\r\n\r\n", 302, "", 0},
		{"Location: /local\r\n\r\n", 200, "", 0},
		{"HTTP/1.1 201 Made\r\nContent-Type: a/b\r\n\r\n", 201, "Made", 0},
		{"HTTP/1.1 2xx\r\n\r\n", 0, "", Protocol},
		{"HTTP/9 200 OK\r\n\r\n", 0, "", Protocol},
		{"garbage\r\n\r\n", 0, "", Protocol},
		{"", 0, "", Protocol},
		{"Content-Type: a/b\r\n", 0, "", Protocol},
	}
	for _, tt := range tests {
		r, err := ReadHead(bufio.NewReader(strings.NewReader(tt.in)), 1024)
		if KindOf(err) != tt.kind || (err == nil && (r.Status != tt.status || r.Reason != tt.reason)) {
			t.Errorf("ReadHead(%q) = %+v, %v; want %d %q kind %v", tt.in, r, err, tt.status, tt.reason, tt.kind)
		}
	}
}

// FuzzReadHead: whatever an SCGI server (or a FastCGI STDOUT stream) sends,
// the head parser ends with a response of a valid status or a protocol
// error, and never reads past its limit.
func FuzzReadHead(f *testing.F) {
	f.Add([]byte("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n42"))
	f.Add([]byte("HTTP/1.0 404 Not Found\r\nX: y\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200\n\n"))
	f.Add([]byte("Location: /x\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 256
		src := &countReader{r: bytes.NewReader(in)}
		r, err := ReadHead(bufio.NewReaderSize(src, 16), limit)
		if err != nil {
			if k := KindOf(err); k != Protocol {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		if r.Status < 200 || r.Status > 999 || r.Header == nil {
			t.Fatalf("response %+v", r)
		}
		if src.n > limit+1024 {
			t.Fatalf("read %d bytes for a head of at most %d", src.n, limit)
		}
	})
}

type countReader struct {
	r io.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// FuzzFastCGIStdout: whatever records a FastCGI application sends, the
// STDOUT stream reader ends with data, EOF or an error of kind Protocol,
// and never returns more STDOUT than the records held.
func FuzzFastCGIStdout(f *testing.F) {
	ok := fcgiwire.AppendStream(nil, fcgiwire.TypeStdout, 1, []byte("Content-Type: text/plain\r\n\r\nhi"))
	ok = fcgiwire.AppendRecord(ok, fcgiwire.TypeStdout, 1, nil)
	ok = fcgiwire.AppendEndRequest(ok, 1, 0, fcgiwire.RequestComplete)
	f.Add(ok)
	f.Add(fcgiwire.AppendEndRequest(nil, 1, 0, fcgiwire.Overloaded))
	f.Add(fcgiwire.AppendStream(nil, fcgiwire.TypeStderr, 1, []byte("oops")))
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s := &stdout{rd: fcgiwire.NewReader(bufio.NewReader(bytes.NewReader(in))), stderr: io.Discard}
		out, err := io.ReadAll(s)
		if len(out) > len(in) {
			t.Fatalf("%d bytes of STDOUT from %d bytes of input", len(out), len(in))
		}
		if err == nil {
			err = s.finish()
		}
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Kind != Protocol) {
			t.Fatalf("error %v (%T)", err, err)
		}
	})
}
