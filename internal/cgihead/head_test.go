package cgihead

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	tests := []struct {
		in     string
		status int
		typ    string
		err    error
	}{
		{"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nbody", 404, "text/plain", nil},
		{"Content-Type: text/html\n\n", 0, "text/html", nil},
		{"", 0, "", ErrNoOutput},
		{"Content-Type: a/b\r\n", 0, "", ErrHeadCut},
		{"HTTP/1.1 200 OK\r\n\r\n", 0, "", ErrBadHead},
		{"Status: 99 x\n\n", 0, "", ErrBadHead},
	}
	for _, tt := range tests {
		h, err := Read(bufio.NewReader(strings.NewReader(tt.in)), 1024)
		if !errors.Is(err, tt.err) || (err == nil && (h.Status != tt.status || h.Header.Get("Content-Type") != tt.typ)) {
			t.Errorf("Read(%q) = %+v, %v; want status %d type %q err %v", tt.in, h, err, tt.status, tt.typ, tt.err)
		}
	}
}

// FuzzRead holds the parser to its contract on what a peer sends: it ends
// with a head or one of its errors, never reads past its limit, and the
// head it returns has a valid status.
func FuzzRead(f *testing.F) {
	f.Add([]byte("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n42"), 64)
	f.Add([]byte("Location: /x\n\n"), 16)
	f.Add([]byte("X: "+strings.Repeat("a", 300)+"\n\n"), 100)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		br := bufio.NewReaderSize(strings.NewReader(string(in)), 16)
		h, err := Read(br, max)
		if err != nil {
			return
		}
		if h.Status != 0 && (h.Status < 200 || h.Status > 999) {
			t.Fatalf("status %d", h.Status)
		}
		if n := len(in) - br.Buffered(); n > max+16 {
			t.Fatalf("read %d bytes with limit %d", n, max)
		}
	})
}
