package cgiresp

import (
	"bufio"
	"strings"
	"testing"
)

// FuzzReadAnyInput holds the parser to its contract on what a peer sends (a
// script, a FastCGI or SCGI application): it ends with a head or one of
// its errors, and the head it returns has a valid status.
func FuzzReadAnyInput(f *testing.F) {
	f.Add([]byte("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n42"), 64)
	f.Add([]byte("Location: /x\n\n"), 16)
	f.Add([]byte("Variable-AUTH_user: x\r\n\r\n"), 64)
	f.Add([]byte("X: "+strings.Repeat("a", 300)+"\n\n"), 100)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		h, err := Read(bufio.NewReaderSize(strings.NewReader(string(in)), 16), max)
		if err != nil {
			return
		}
		if h.Status != 0 && (h.Status < 200 || h.Status > 999) {
			t.Fatalf("status %d", h.Status)
		}
		if h.Header == nil {
			t.Fatal("no header map")
		}
	})
}
