package fastcgi

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "", "\n", "").Replace(s))
	if err != nil {
		panic(err)
	}
	return b
}

// recordTable holds records as exact bytes, each with how it is encoded.
var recordTable = []struct {
	name   string
	encode func() []byte
	bytes  string
}{
	{"SPECS BEGIN_REQUEST responder keep-conn id 1", func() []byte {
		return appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
	}, "01 01 00 01 00 08 00 00 | 00 01 01 00 00 00 00 00"},
	{"BEGIN_REQUEST authorizer id 258 no flags", func() []byte {
		return appendBeginRequest(nil, 258, roleAuthorizer, 0)
	}, "01 01 01 02 00 08 00 00 | 00 02 00 00 00 00 00 00"},
	{"SPECS END_REQUEST complete id 1", func() []byte {
		return appendEndRequest(nil, 1, 0, RequestComplete)
	}, "01 03 00 01 00 08 00 00 | 00 00 00 00 00 00 00 00"},
	{"END_REQUEST CANT_MPX_CONN", func() []byte {
		return appendEndRequest(nil, 2, 0, CantMpxConn)
	}, "01 03 00 02 00 08 00 00 | 00 00 00 00 01 00 00 00"},
	{"END_REQUEST OVERLOADED", func() []byte {
		return appendEndRequest(nil, 3, 0, Overloaded)
	}, "01 03 00 03 00 08 00 00 | 00 00 00 00 02 00 00 00"},
	{"END_REQUEST UNKNOWN_ROLE", func() []byte {
		return appendEndRequest(nil, 4, 0, UnknownRole)
	}, "01 03 00 04 00 08 00 00 | 00 00 00 00 03 00 00 00"},
	{"END_REQUEST appStatus 0x01020304", func() []byte {
		return appendEndRequest(nil, 1, 0x01020304, RequestComplete)
	}, "01 03 00 01 00 08 00 00 | 01 02 03 04 00 00 00 00"},
	{"SPECS UNKNOWN_TYPE for T=12", func() []byte {
		return appendUnknownType(nil, 12)
	}, "01 0b 00 00 00 08 00 00 | 0c 00 00 00 00 00 00 00"},
	{"STDOUT 5 bytes padded by 3", func() []byte {
		return appendRecord(nil, typeStdout, 1, []byte("Hello"))
	}, "01 06 00 01 00 05 03 00 | 48 65 6c 6c 6f | 00 00 00"},
	{"empty STDOUT ends the stream", func() []byte {
		return appendRecord(nil, typeStdout, 1, nil)
	}, "01 06 00 01 00 00 00 00"},
	{"STDERR 8 bytes, no padding", func() []byte {
		return appendRecord(nil, typeStderr, 7, []byte("warning!"))
	}, "01 07 00 07 00 08 00 00 | 77 61 72 6e 69 6e 67 21"},
	{"SPECS pair SERVER_PORT=80 in PARAMS", func() []byte {
		return appendRecord(nil, typeParams, 1, appendPair(nil, "SERVER_PORT", "80"))
	}, "01 04 00 01 00 0f 01 00 | 0b 02 | 53 45 52 56 45 52 5f 50 4f 52 54 | 38 30 | 00"},
	{"GET_VALUES_RESULT MPXS_CONNS=1", func() []byte {
		return appendRecord(nil, typeGetValuesResult, 0, appendPair(nil, "FCGI_MPXS_CONNS", "1"))
	}, "01 0a 00 00 00 12 06 00 | 0f 01 | 46 43 47 49 5f 4d 50 58 53 5f 43 4f 4e 4e 53 | 31 | 00 00 00 00 00 00"},
}

func TestRecordEncode(t *testing.T) {
	for _, tc := range recordTable {
		if got, want := tc.encode(), unhex(tc.bytes); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got % x\nwant % x", tc.name, got, want)
		}
	}
}

func TestRecordDecode(t *testing.T) {
	for _, tc := range recordTable {
		b := unhex(tc.bytes)
		h, content, err := readRecord(bytes.NewReader(b), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// Decoding and encoding again gives the same bytes, padding and all.
		if got := appendRecord(nil, h.Type, h.ID, content); !bytes.Equal(got, b) {
			t.Errorf("%s: re-encoded % x", tc.name, got)
		}
		if int(h.ContentLength)+int(h.PaddingLength)+headerLen != len(b) {
			t.Errorf("%s: header %+v does not account for %d bytes", tc.name, h, len(b))
		}
	}
	// The typed bodies.
	br, err := parseBeginRequest(unhex("00 01 01 00 00 00 00 00"))
	if err != nil || br != (beginRequest{Role: roleResponder, Flags: flagKeepConn}) {
		t.Errorf("BEGIN_REQUEST body: %+v, %v", br, err)
	}
	if _, err := parseBeginRequest(unhex("00 01 01")); !errors.Is(err, ErrBeginRequest) {
		t.Errorf("short BEGIN_REQUEST: %v, want ErrBeginRequest", err)
	}
	er, err := parseEndRequest(unhex("01 02 03 04 02 00 00 00"))
	if err != nil || er != (endRequest{AppStatus: 0x01020304, ProtocolStatus: Overloaded}) {
		t.Errorf("END_REQUEST body: %+v, %v", er, err)
	}
	// A reader skips padding whatever its length, not only to 8.
	b := unhex("01 06 00 01 00 02 05 00 | 68 69 | 00 00 00 00 00 | 01 06 00 01 00 00 00 00")
	r := bytes.NewReader(b)
	h, content, err := readRecord(r, nil)
	if err != nil || string(content) != "hi" || h.PaddingLength != 5 {
		t.Fatalf("padded record: %+v %q %v", h, content, err)
	}
	h, content, err = readRecord(r, nil)
	if err != nil || len(content) != 0 || h.Type != typeStdout {
		t.Fatalf("record after padding: %+v %q %v", h, content, err)
	}
	if _, _, err := readRecord(bytes.NewReader(unhex("02 06 00 01 00 00 00 00")), nil); !errors.Is(err, ErrVersion) {
		t.Errorf("version 2: %v, want ErrVersion", err)
	}
}

// pairTable holds name-value pairs as exact bytes.
var pairTable = []struct {
	name, value string
	bytes       string
}{
	{"SERVER_PORT", "80", "0b 02 53 45 52 56 45 52 5f 50 4f 52 54 38 30"},
	{"", "", "00 00"},
	{"A", "", "01 00 41"},
	{strings.Repeat("n", 127), "v", "7f 01" + strings.Repeat(" 6e", 127) + " 76"},
	{strings.Repeat("n", 128), "", "80 00 00 80 00" + strings.Repeat(" 6e", 128)},
	{"X", strings.Repeat("v", 1000), "01 80 00 03 e8 58" + strings.Repeat(" 76", 1000)},
}

func TestPairsEncode(t *testing.T) {
	for _, tc := range pairTable {
		if got, want := appendPair(nil, tc.name, tc.value), unhex(tc.bytes); !bytes.Equal(got, want) {
			t.Errorf("pair %.10q=%.10q:\n got % x\nwant % x", tc.name, tc.value, got[:min(len(got), 12)], want[:min(len(want), 12)])
		}
	}
	if got := appendPairLen(nil, 128); !bytes.Equal(got, unhex("80 00 00 80")) {
		t.Errorf("length 128: % x", got)
	}
	if got := appendPairLen(nil, 1000); !bytes.Equal(got, unhex("80 00 03 e8")) {
		t.Errorf("length 1000: % x", got)
	}
}

func TestPairsDecode(t *testing.T) {
	var all []byte
	for _, tc := range pairTable {
		b := unhex(tc.bytes)
		all = append(all, b...)
		var got [][2]string
		if err := decodePairs(string(b), func(n, v string) { got = append(got, [2]string{n, v}) }); err != nil {
			t.Fatalf("%.10q: %v", tc.name, err)
		}
		if len(got) != 1 || got[0] != [2]string{tc.name, tc.value} {
			t.Errorf("%.10q: decoded %.20q", tc.name, got)
		}
	}
	n := 0
	if err := decodePairs(string(all), func(string, string) { n++ }); err != nil || n != len(pairTable) {
		t.Errorf("all pairs in one stream: %d pairs, %v", n, err)
	}
	for _, bad := range []string{
		"0b",                   // no value length
		"0b 02 53 45",          // name cut short
		"80 00 00",             // 4-byte length cut short
		"01 80 00 03 e8 58 76", // value cut short
		"ff ff ff ff 00",       // 2 GiB name in a tiny stream
	} {
		if err := decodePairs(string(unhex(bad)), func(string, string) {}); !errors.Is(err, ErrPairs) {
			t.Errorf("decodePairs(% x) = %v, want ErrPairs", unhex(bad), err)
		}
	}
}

// A pair may straddle records: the server joins the stream before decoding.
func TestPairsStraddleRecords(t *testing.T) {
	p := appendPair(nil, strings.Repeat("N", 200), "value")
	b := appendBeginRequest(nil, 1, roleResponder, flagKeepConn)
	// Split inside the 4-byte name length, then inside the name.
	b = appendRecord(b, typeParams, 1, p[:2])
	b = appendRecord(b, typeParams, 1, p[2:100])
	b = appendRecord(b, typeParams, 1, p[100:])
	params := pairs(getParams("/echo"))
	b = appendRecord(b, typeParams, 1, params)
	b = appendRecord(b, typeParams, 1, nil)
	b = appendRecord(b, typeStdin, 1, nil)
	addr := startServer(t, &Server{Handler: newServer(newTestApp()).Handler})
	c := dialTest(t, addr)
	c.write(b)
	r := c.wait(1, 5*time.Second)
	if !strings.HasPrefix(r.stdout.String(), "Status: 200 OK\r\n") {
		t.Errorf("response %q", r.stdout.String())
	}
}

func TestStreamSplit(t *testing.T) {
	p := bytes.Repeat([]byte{'x'}, maxChunk+10)
	b := appendStream(nil, typeStdout, 1, p)
	if len(b) != streamSize(len(p)) {
		t.Errorf("appendStream made %d bytes, streamSize says %d", len(b), streamSize(len(p)))
	}
	r := bytes.NewReader(b)
	h1, c1, err := readRecord(r, nil)
	if err != nil || int(h1.ContentLength) != maxChunk || h1.PaddingLength != 0 || len(c1) != maxChunk {
		t.Fatalf("first record %+v %v", h1, err)
	}
	h2, _, err := readRecord(r, nil)
	if err != nil || h2.ContentLength != 10 || h2.PaddingLength != 6 {
		t.Fatalf("second record %+v %v", h2, err)
	}
	if len(appendStream(nil, typeStdout, 1, nil)) != 0 {
		t.Error("an empty write must not end the stream")
	}
}

func FuzzRecord(f *testing.F) {
	for _, tc := range recordTable {
		f.Add(unhex(tc.bytes))
	}
	f.Add(unhex("02 06 00 01 00 00 00 00"))
	f.Add(unhex("01 06 00 01 ff ff ff 00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			h, content, err := readRecord(r, nil)
			if err != nil {
				return
			}
			if len(content) != int(h.ContentLength) {
				t.Fatalf("content %d bytes, header says %d", len(content), h.ContentLength)
			}
			// What decodes encodes back to a record that decodes the same.
			e := appendRecord(nil, h.Type, h.ID, content)
			if len(e)%8 != 0 {
				t.Fatalf("encoded record of %d bytes is not aligned", len(e))
			}
			h2, c2, err := readRecord(bytes.NewReader(e), nil)
			if err != nil || h2.Type != h.Type || h2.ID != h.ID || !bytes.Equal(c2, content) {
				t.Fatalf("round trip: %+v %v", h2, err)
			}
			if h.Type == typeBeginRequest {
				parseBeginRequest(content)
			}
		}
	})
}

func FuzzParams(f *testing.F) {
	for _, tc := range pairTable {
		f.Add(unhex(tc.bytes))
	}
	f.Add(unhex("80 00 00"))
	f.Add(unhex("ff ff ff ff 00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var names, values []string
		err := decodePairs(string(b), func(n, v string) {
			names = append(names, n)
			values = append(values, v)
		})
		if err != nil {
			return
		}
		// A stream that decodes re-encodes to pairs that decode the same.
		var e []byte
		for i := range names {
			e = appendPair(e, names[i], values[i])
		}
		i := 0
		if err := decodePairs(string(e), func(n, v string) {
			if n != names[i] || v != values[i] {
				t.Fatalf("pair %d: %q=%q, want %q=%q", i, n, v, names[i], values[i])
			}
			i++
		}); err != nil || i != len(names) {
			t.Fatalf("re-decoding: %d pairs, %v", i, err)
		}
	})
}
