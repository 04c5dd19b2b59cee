package cgiresp

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// TestParseAgreesWithRead holds the in-place parser (the FastCGI upstream's)
// to the stream reader (the CGI runner's): one rule for both.
func TestParseAgreesWithRead(t *testing.T) {
	for _, in := range []string{
		"Content-Type: text/plain\r\n\r\nbody",
		"Status: 404 Not Found\nContent-Type: text/html\n\n",
		"Location: /next?a=1\n\n",
		"X-Long: " + strings.Repeat("v", 5000) + "\r\n\r\n",
		"X-A: b\n c\n\n",
		"X-A: a\x00b\n\n",
		"Status: 100 Continue\n\n",
		"\r\n",
	} {
		end := HeadEnd([]byte(in))
		if end < 0 {
			t.Fatalf("%.20q: no end found", in)
		}
		ph, perr := Parse([]byte(in[:end]))
		rh, rerr := Read(bufio.NewReaderSize(strings.NewReader(in), 16), 1<<20)
		if (perr == nil) != (rerr == nil) || (perr != nil && !errors.Is(perr, ErrBadHead)) {
			t.Errorf("%.20q: Parse error %v, Read error %v", in, perr, rerr)
			continue
		}
		if ph.Status != rh.Status || ph.Location != rh.Location || ph.Fields != rh.Fields ||
			ph.HasType != rh.HasType || len(ph.Header) != len(rh.Header) {
			t.Errorf("%.20q: Parse %+v, Read %+v", in, ph, rh)
		}
	}
}

func TestHeadEnd(t *testing.T) {
	for in, want := range map[string]int{
		"":                     -1,
		"A: b\n":               -1,
		"A: b\r\n\r":           -1,
		"\n":                   1,
		"\r\nrest":             2,
		"A: b\n\nrest":         6,
		"A: b\r\n\r\nrest":     8,
		"A: b\r\nC: d\r\n\r\n": 14,
	} {
		if got := HeadEnd([]byte(in)); got != want {
			t.Errorf("HeadEnd(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestIsLocalRedirect(t *testing.T) {
	for in, want := range map[string]bool{
		"Location: /a\n\n":                          true,
		"Location: //evil/a\n\n":                    false,
		"Location: http://h/a\n\n":                  false,
		"Location: /a\nContent-Type: text/html\n\n": false,
		"Status: 302 Found\nLocation: /a\n\n":       false,
		"Content-Type: text/plain\n\n":              false,
	} {
		h, err := Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if got := h.IsLocalRedirect(); got != want {
			t.Errorf("%q: IsLocalRedirect %v, want %v", in, got, want)
		}
	}
}

// FuzzParse holds the in-place parser to the stream reader on any input:
// the same head, the same verdict.
func FuzzParse(f *testing.F) {
	f.Add([]byte("Content-Type: text/plain\r\n\r\nbody"))
	f.Add([]byte("Status: 404 Not Found\nLocation: /x\n\n"))
	f.Add([]byte("X-A: b\n c\n\n"))
	f.Add([]byte("Variable-Remote_User: alice\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		end := HeadEnd(in)
		rh, rerr := Read(bufio.NewReaderSize(bytes.NewReader(in), 16), 1<<20)
		if end < 0 {
			if rerr == nil {
				t.Fatalf("Read found a head that HeadEnd did not: %q", in)
			}
			return
		}
		ph, perr := Parse(in[:end])
		if (perr == nil) != (rerr == nil) {
			t.Fatalf("Parse %v, Read %v: %q", perr, rerr, in)
		}
		if perr == nil && (ph.Status != rh.Status || ph.Location != rh.Location || ph.Fields != rh.Fields ||
			ph.HasType != rh.HasType || len(ph.Header) != len(rh.Header)) {
			t.Fatalf("Parse %+v, Read %+v", ph, rh)
		}
	})
}

// ParseInto fills the caller's map; the values share one array and two
// allocations serve the whole head, yet appending to one name's values
// leaves the others as they were, and the parse does not keep the input.
func TestParseInto(t *testing.T) {
	in := []byte("Content-Type: text/plain\r\nSet-Cookie: a=1\r\nX-A: a\r\nSet-Cookie: b=2\r\nX-B: b\r\n\r\n")
	dst := http.Header{}
	h, err := ParseInto(in, dst)
	if err != nil {
		t.Fatal(err)
	}
	if h.Header == nil || len(dst) != 4 || h.Fields != 5 || !h.HasType {
		t.Fatalf("head %+v, map %v", h, dst)
	}
	copy(in, bytes.Repeat([]byte{'z'}, len(in))) // the values are the parser's own
	dst["X-A"] = append(dst["X-A"], "added")
	want := http.Header{"Content-Type": {"text/plain"}, "Set-Cookie": {"a=1", "b=2"}, "X-A": {"a", "added"}, "X-B": {"b"}}
	if !reflect.DeepEqual(dst, want) {
		t.Errorf("got %q\nwant %q", dst, want)
	}
	head := []byte("Content-Type: text/plain\r\nX-Powered-By: PHP\r\nX-A: 1\r\nX-B: 2\r\n\r\n")
	m := make(http.Header, 8)
	if n := testing.AllocsPerRun(100, func() { clear(m); _, _ = ParseInto(head, m) }); n > 2 {
		t.Errorf("%v allocations for a head of four fields, want at most 2 (the copy, the values)", n)
	}
}
