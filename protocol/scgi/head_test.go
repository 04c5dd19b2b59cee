package scgi

import (
	"bufio"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"

	"github.com/gatewayd/gatewayd/core/environ"
)

// specRequest is the example request of the SCGI specification.
const specRequest = "70:CONTENT_LENGTH\x0027\x00SCGI\x001\x00REQUEST_METHOD\x00POST\x00REQUEST_URI\x00/deepthought\x00," +
	"What is the answer to life?"

var headTests = []struct {
	name   string
	in     string
	env    environ.Env // nil: an error is expected
	length int64
	err    error // ErrMalformed or ErrHeaderTooLarge
	rest   string
}{
	{
		name: "spec example",
		in:   specRequest,
		env: environ.Env{"CONTENT_LENGTH": "27", "SCGI": "1", "REQUEST_METHOD": "POST",
			"REQUEST_URI": "/deepthought"},
		length: 27,
		rest:   "What is the answer to life?",
	},
	{
		name:   "zero length, empty value",
		in:     "31:CONTENT_LENGTH\x000\x00SCGI\x001\x00EMPTY\x00\x00,",
		env:    environ.Env{"CONTENT_LENGTH": "0", "SCGI": "1", "EMPTY": ""},
		length: 0,
	},
	{
		name:   "leading zeros in CONTENT_LENGTH are normalised",
		in:     "26:CONTENT_LENGTH\x00007\x00SCGI\x001\x00,abcdefg",
		env:    environ.Env{"CONTENT_LENGTH": "7", "SCGI": "1"},
		length: 7,
		rest:   "abcdefg",
	},
	{
		name:   "bytes that are not UTF-8 pass unchanged",
		in:     "30:CONTENT_LENGTH\x000\x00SCGI\x001\x00X\x00\xff\xfe\x01\x00,",
		env:    environ.Env{"CONTENT_LENGTH": "0", "SCGI": "1", "X": "\xff\xfe\x01"},
		length: 0,
	},
	{name: "empty netstring", in: "0:,", err: ErrMalformed},
	{name: "no length", in: ":abc,", err: ErrMalformed},
	{name: "leading zero in netstring length", in: "070:CONTENT_LENGTH\x00", err: ErrMalformed},
	{name: "length 00", in: "00:,", err: ErrMalformed},
	{name: "sign in length", in: "+5:", err: ErrMalformed},
	{name: "space in length", in: " 5:", err: ErrMalformed},
	{name: "length too large", in: "65537:", err: ErrHeaderTooLarge},
	{name: "length overflows", in: "99999999999999999999999999:", err: ErrHeaderTooLarge},
	{name: "eof in length", in: "70", err: ErrMalformed},
	{name: "eof in block", in: "70:CONTENT_LENGTH\x00", err: ErrMalformed},
	{name: "eof before comma", in: "24:CONTENT_LENGTH\x000\x00SCGI\x001\x00", err: ErrMalformed},
	{name: "no comma", in: "24:CONTENT_LENGTH\x000\x00SCGI\x001\x00;", err: ErrMalformed},
	{name: "block not ending in NUL", in: "23:CONTENT_LENGTH\x000\x00SCGI\x001,", err: ErrMalformed},
	{name: "name without value", in: "29:CONTENT_LENGTH\x000\x00SCGI\x001\x00NAME\x00,", err: ErrMalformed},
	{name: "empty name", in: "26:CONTENT_LENGTH\x000\x00SCGI\x001\x00\x00\x00,", err: ErrMalformed},
	{name: "CONTENT_LENGTH not first", in: "24:SCGI\x001\x00CONTENT_LENGTH\x000\x00,", err: ErrMalformed},
	{name: "CONTENT_LENGTH missing", in: "7:SCGI\x001\x00,", err: ErrMalformed},
	{name: "CONTENT_LENGTH empty", in: "23:CONTENT_LENGTH\x00\x00SCGI\x001\x00,", err: ErrMalformed},
	{name: "CONTENT_LENGTH negative", in: "26:CONTENT_LENGTH\x00-10\x00SCGI\x001\x00,", err: ErrMalformed},
	{name: "CONTENT_LENGTH with space", in: "26:CONTENT_LENGTH\x00 10\x00SCGI\x001\x00,", err: ErrMalformed},
	{name: "CONTENT_LENGTH too long", in: "42:CONTENT_LENGTH\x000000000000000000001\x00SCGI\x001\x00,", err: ErrMalformed},
	{name: "SCGI missing", in: "17:CONTENT_LENGTH\x000\x00,", err: ErrMalformed},
	{name: "SCGI not 1", in: "24:CONTENT_LENGTH\x000\x00SCGI\x002\x00,", err: ErrMalformed},
	{name: "duplicate name", in: "31:CONTENT_LENGTH\x000\x00SCGI\x001\x00SCGI\x001\x00,", err: ErrMalformed},
	{name: "duplicate CONTENT_LENGTH", in: "41:CONTENT_LENGTH\x000\x00SCGI\x001\x00CONTENT_LENGTH\x000\x00,", err: ErrMalformed},
}

func TestReadHead(t *testing.T) {
	for _, tt := range headTests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
			env, n, err := readHead(br, DefaultMaxHeaderBytes)
			if tt.env == nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if !maps.Equal(env, tt.env) || n != tt.length {
				t.Errorf("got %q, %d; want %q, %d", env, n, tt.env, tt.length)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != tt.rest {
				t.Errorf("left after the head: %q, want %q", rest, tt.rest)
			}
		})
	}
}

// TestReadHeadRoundTrip encodes each good table entry's environment back
// into a netstring (CONTENT_LENGTH first) and checks that it decodes to the
// same thing, through a small and a large buffer.
func TestReadHeadRoundTrip(t *testing.T) {
	for _, tt := range headTests {
		if tt.env == nil {
			continue
		}
		wire := encodeHead(tt.env)
		for _, size := range []int{16, 4096} {
			env, _, err := readHead(bufio.NewReaderSize(strings.NewReader(wire), size), DefaultMaxHeaderBytes)
			if err != nil || !maps.Equal(env, tt.env) {
				t.Errorf("%s (buffer %d): %q → %q, %v", tt.name, size, wire, env, err)
			}
		}
	}
}

func TestReadHeadLimit(t *testing.T) {
	in := "24:CONTENT_LENGTH\x000\x00SCGI\x001\x00,"
	if _, _, err := readHead(bufio.NewReader(strings.NewReader(in)), 24); err != nil {
		t.Errorf("24 bytes with a limit of 24: %v", err)
	}
	if _, _, err := readHead(bufio.NewReader(strings.NewReader(in)), 23); !errors.Is(err, ErrHeaderTooLarge) {
		t.Errorf("24 bytes with a limit of 23: %v, want ErrHeaderTooLarge", err)
	}
}

func TestReadHeadEOF(t *testing.T) {
	if _, _, err := readHead(bufio.NewReader(strings.NewReader("")), 100); err != io.EOF {
		t.Errorf("empty input: %v, want io.EOF", err)
	}
}

// encodeHead is the SCGI client side: CONTENT_LENGTH first, the rest sorted.
func encodeHead(env environ.Env) string {
	var b strings.Builder
	if v, ok := env["CONTENT_LENGTH"]; ok {
		b.WriteString("CONTENT_LENGTH\x00" + v + "\x00")
	}
	for _, k := range env.Names() {
		if k != "CONTENT_LENGTH" {
			b.WriteString(k + "\x00" + env[k] + "\x00")
		}
	}
	return itoa(b.Len()) + ":" + b.String() + ","
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}

// FuzzHeader feeds arbitrary bytes to the head reader: it must return an
// environment that satisfies the protocol or an error wrapping one of the
// package's sentinels, and never panic.
func FuzzHeader(f *testing.F) {
	for _, tt := range headTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(strings.NewReader(string(in)), 16)
		env, n, err := readHead(br, 1024)
		if err != nil {
			if err != io.EOF && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrHeaderTooLarge) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		if env["SCGI"] != "1" {
			t.Fatalf("accepted SCGI=%q", env["SCGI"])
		}
		if cl, ok := environ.ParseContentLength(env["CONTENT_LENGTH"]); !ok || cl != n || n < 0 {
			t.Fatalf("accepted CONTENT_LENGTH %q as %d", env["CONTENT_LENGTH"], n)
		}
		for k := range env {
			if k == "" || strings.IndexByte(k, 0) >= 0 {
				t.Fatalf("accepted name %q", k)
			}
		}
		// What was accepted must survive a round trip.
		again, n2, err := readHead(bufio.NewReader(strings.NewReader(encodeHead(env))), 1<<20)
		if err != nil || !maps.Equal(again, env) || n2 != n {
			t.Fatalf("round trip: %q → %q, %v", env, again, err)
		}
	})
}
