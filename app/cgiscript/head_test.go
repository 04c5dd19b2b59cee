package cgiscript

import (
	"bufio"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/core/handler"
)

var headTests = []struct {
	name   string
	in     string
	max    int // 0: 65536
	status int
	header http.Header
	rest   string // what is left for the body
	err    error
}{
	{name: "document CRLF", in: "Content-Type: text/html\r\nX-A: 1\r\n\r\nbody",
		header: http.Header{"Content-Type": {"text/html"}, "X-A": {"1"}}, rest: "body"},
	{name: "document LF", in: "Content-type: text/plain\nx-a:1\n\nbody\r\n",
		header: http.Header{"Content-Type": {"text/plain"}, "X-A": {"1"}}, rest: "body\r\n"},
	{name: "mixed line ends", in: "Content-Type: a/b\r\nX-B: 2\n\r\n",
		header: http.Header{"Content-Type": {"a/b"}, "X-B": {"2"}}},
	{name: "status", in: "Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\n", status: 404,
		header: http.Header{"Content-Type": {"text/plain"}}},
	{name: "status without phrase", in: "status: 204\n\n", status: 204, header: http.Header{}},
	{name: "status odd code", in: "Status: 599 x\n\n", status: 599, header: http.Header{}},
	{name: "repeated fields", in: "Set-Cookie: a=1\nSet-Cookie: b=2\n\n",
		header: http.Header{"Set-Cookie": {"a=1", "b=2"}}},
	{name: "blank values trimmed", in: "X-Empty:\nX-Pad: \t v \t\n\n",
		header: http.Header{"X-Empty": {""}, "X-Pad": {"v"}}},
	{name: "local redirect", in: "Location: /x?y=1\r\n\r\n", header: http.Header{"Location": {"/x?y=1"}}},
	{name: "utf-8 value", in: "X-Name: Zoë\n\n", header: http.Header{"X-Name": {"Zoë"}}},
	{name: "colon in value", in: "X-Url: http://a:1/\n\n", header: http.Header{"X-Url": {"http://a:1/"}}},

	{name: "no output", in: "", err: errNoOutput},
	{name: "cut in a line", in: "Content-Type: te", err: errHeadCut},
	{name: "cut before the blank line", in: "Content-Type: text/plain\r\n", err: errHeadCut},
	{name: "too large", in: "X-A: " + strings.Repeat("a", 100) + "\n\n", max: 64, err: errHeadTooLarge},
	{name: "too large in a long line", in: "X-A: " + strings.Repeat("a", 10000) + "\n\n", max: 8000, err: errHeadTooLarge},
	{name: "exactly max", in: "X-A: b\n\n", max: 8, header: http.Header{"X-A": {"b"}}},
	{name: "one over max", in: "X-A: b\n\n", max: 7, err: errHeadTooLarge},
	{name: "continuation", in: "X-A: b\n c\n\n", err: errBadHead},
	{name: "no colon", in: "HTTP/1.1 200 OK\n\n", err: errBadHead},
	{name: "empty name", in: ": v\n\n", err: errBadHead},
	{name: "space in name", in: "X A: v\n\n", err: errBadHead},
	{name: "space before colon", in: "X-A : v\n\n", err: errBadHead},
	{name: "NUL in value", in: "X-A: a\x00b\n\n", err: errBadHead},
	{name: "bare CR in value", in: "X-A: a\rb\n\n", err: errBadHead},
	{name: "repeated status", in: "Status: 200 OK\nStatus: 404 x\n\n", err: errBadHead},
	{name: "repeated type", in: "Content-Type: a/b\ncontent-type: c/d\n\n", err: errBadHead},
	{name: "repeated location", in: "Location: /a\nLocation: /b\n\n", err: errBadHead},
	{name: "empty location", in: "Location:\n\n", err: errBadHead},
	{name: "interim status", in: "Status: 100 Continue\n\n", err: errBadHead},
	{name: "bad status", in: "Status: OK\n\n", err: errBadHead},
	{name: "short status", in: "Status: 20\n\n", err: errBadHead},
	{name: "status digits run on", in: "Status: 2000\n\n", err: errBadHead},
}

func TestReadHead(t *testing.T) {
	for _, tt := range headTests {
		max := tt.max
		if max == 0 {
			max = 65536
		}
		br := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
		h, err := readHead(br, max)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if h.status != tt.status || !reflect.DeepEqual(h.header, tt.header) {
			t.Errorf("%s: status %d header %v, want %d %v", tt.name, h.status, h.header, tt.status, tt.header)
		}
		rest := make([]byte, 100)
		n, _ := br.Read(rest)
		if string(rest[:n]) != tt.rest {
			t.Errorf("%s: rest %q, want %q", tt.name, rest[:n], tt.rest)
		}
	}
}

func FuzzReadHead(f *testing.F) {
	for _, tt := range headTests {
		f.Add([]byte(tt.in), uint16(tt.max))
	}
	f.Fuzz(func(t *testing.T, in []byte, max uint16) {
		limit := int(max)
		if limit == 0 {
			limit = 65536
		}
		h, err := readHead(bufio.NewReaderSize(strings.NewReader(string(in)), 16), limit)
		if err != nil {
			return
		}
		if h.status != 0 && (h.status < 200 || h.status > 999) {
			t.Fatalf("status %d", h.status)
		}
		for k, vs := range h.header {
			if !handler.ValidHeaderName(k) {
				t.Fatalf("bad name %q", k)
			}
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n\x00") {
					t.Fatalf("bad value %q", v)
				}
			}
		}
		if len(h.header["Content-Type"]) > 1 || len(h.header["Location"]) > 1 {
			t.Fatalf("repeated field: %v", h.header)
		}
		if _, ok := h.header["Status"]; ok {
			t.Fatalf("Status kept as a header")
		}
	})
}
