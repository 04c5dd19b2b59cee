package fcgiwire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
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
		return AppendBeginRequest(nil, 1, RoleResponder, FlagKeepConn)
	}, "01 01 00 01 00 08 00 00 | 00 01 01 00 00 00 00 00"},
	{"BEGIN_REQUEST authorizer id 258 no flags", func() []byte {
		return AppendBeginRequest(nil, 258, RoleAuthorizer, 0)
	}, "01 01 01 02 00 08 00 00 | 00 02 00 00 00 00 00 00"},
	{"SPECS END_REQUEST complete id 1", func() []byte {
		return AppendEndRequest(nil, 1, 0, RequestComplete)
	}, "01 03 00 01 00 08 00 00 | 00 00 00 00 00 00 00 00"},
	{"END_REQUEST CANT_MPX_CONN", func() []byte {
		return AppendEndRequest(nil, 2, 0, CantMpxConn)
	}, "01 03 00 02 00 08 00 00 | 00 00 00 00 01 00 00 00"},
	{"END_REQUEST OVERLOADED", func() []byte {
		return AppendEndRequest(nil, 3, 0, Overloaded)
	}, "01 03 00 03 00 08 00 00 | 00 00 00 00 02 00 00 00"},
	{"END_REQUEST UNKNOWN_ROLE", func() []byte {
		return AppendEndRequest(nil, 4, 0, UnknownRole)
	}, "01 03 00 04 00 08 00 00 | 00 00 00 00 03 00 00 00"},
	{"END_REQUEST appStatus 0x01020304", func() []byte {
		return AppendEndRequest(nil, 1, 0x01020304, RequestComplete)
	}, "01 03 00 01 00 08 00 00 | 01 02 03 04 00 00 00 00"},
	{"SPECS UNKNOWN_TYPE for T=12", func() []byte {
		return AppendUnknownType(nil, 12)
	}, "01 0b 00 00 00 08 00 00 | 0c 00 00 00 00 00 00 00"},
	{"STDOUT 5 bytes padded by 3", func() []byte {
		return AppendRecord(nil, TypeStdout, 1, []byte("Hello"))
	}, "01 06 00 01 00 05 03 00 | 48 65 6c 6c 6f | 00 00 00"},
	{"empty STDOUT ends the stream", func() []byte {
		return AppendRecord(nil, TypeStdout, 1, nil)
	}, "01 06 00 01 00 00 00 00"},
	{"STDERR 8 bytes, no padding", func() []byte {
		return AppendRecord(nil, TypeStderr, 7, []byte("warning!"))
	}, "01 07 00 07 00 08 00 00 | 77 61 72 6e 69 6e 67 21"},
	{"SPECS pair SERVER_PORT=80 in PARAMS", func() []byte {
		return AppendRecord(nil, TypeParams, 1, AppendPair(nil, "SERVER_PORT", "80"))
	}, "01 04 00 01 00 0f 01 00 | 0b 02 | 53 45 52 56 45 52 5f 50 4f 52 54 | 38 30 | 00"},
	{"PARAMS stream from pairs, with its end", func() []byte {
		return AppendParams(nil, 1, func(yield func(string, string) bool) { yield("SERVER_PORT", "80") })
	}, "01 04 00 01 00 0f 01 00 | 0b 02 | 53 45 52 56 45 52 5f 50 4f 52 54 | 38 30 | 00 | 01 04 00 01 00 00 00 00"},
	{"GET_VALUES_RESULT MPXS_CONNS=1", func() []byte {
		return AppendRecord(nil, TypeGetValuesResult, 0, AppendPair(nil, "FCGI_MPXS_CONNS", "1"))
	}, "01 0a 00 00 00 12 06 00 | 0f 01 | 46 43 47 49 5f 4d 50 58 53 5f 43 4f 4e 4e 53 | 31 | 00 00 00 00 00 00"},
	{"GET_VALUES MPXS_CONNS", func() []byte {
		return AppendGetValues(nil, MpxsConns)
	}, "01 09 00 00 00 11 07 00 | 0f 00 | 46 43 47 49 5f 4d 50 58 53 5f 43 4f 4e 4e 53 | 00 00 00 00 00 00 00"},
	{"GET_VALUES_RESULT answering MPXS_CONNS and an unknown name", func() []byte {
		q := AppendPair(AppendPair(nil, "FCGI_MPXS_CONNS", ""), "FCGI_WHAT", "")
		b, err := AppendGetValuesResult(nil, q, func(n string) (string, bool) { return "1", n == MpxsConns })
		if err != nil {
			panic(err)
		}
		return b
	}, "01 0a 00 00 00 12 06 00 | 0f 01 | 46 43 47 49 5f 4d 50 58 53 5f 43 4f 4e 4e 53 | 31 | 00 00 00 00 00 00"},
	{"GET_VALUES_RESULT answering nothing", func() []byte {
		b, _ := AppendGetValuesResult(nil, nil, func(string) (string, bool) { return "", false })
		return b
	}, "01 0a 00 00 00 00 00 00"},
}

func TestRecordEncode(t *testing.T) {
	for _, tc := range recordTable {
		if got, want := tc.encode(), unhex(tc.bytes); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got % x\nwant % x", tc.name, got, want)
		}
		// Appending keeps what was in the buffer.
		if got := append([]byte("x"), tc.encode()...); got[0] != 'x' {
			t.Errorf("%s: prefix lost", tc.name)
		}
	}
}

func TestRecordDecode(t *testing.T) {
	for _, tc := range recordTable {
		b := unhex(tc.bytes)
		for rest := b; len(rest) > 0; {
			h, content, err := ReadRecord(bytes.NewReader(rest), nil)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			rec := rest[:HeaderLen+h.Len()]
			// Decoding and encoding again gives the same bytes, padding and all.
			if got := AppendRecord(nil, h.Type, h.ID, content); !bytes.Equal(got, rec) {
				t.Errorf("%s: re-encoded % x", tc.name, got)
			}
			rest = rest[len(rec):]
		}
		// The Reader reads the same records as ReadRecord.
		r := NewReader(bufio.NewReaderSize(bytes.NewReader(b), 16))
		var again []byte
		for {
			h, content, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: Reader: %v", tc.name, err)
			}
			again = AppendRecord(again, h.Type, h.ID, content)
		}
		if !bytes.Equal(again, b) {
			t.Errorf("%s: Reader re-encoded % x", tc.name, again)
		}
	}
}

func TestBodies(t *testing.T) {
	br, err := ParseBeginRequest(unhex("00 01 01 00 00 00 00 00"))
	if err != nil || br != (BeginRequest{Role: RoleResponder, Flags: FlagKeepConn}) {
		t.Errorf("BEGIN_REQUEST body: %+v, %v", br, err)
	}
	if _, err := ParseBeginRequest(unhex("00 01 01")); !errors.Is(err, errShortBody) {
		t.Errorf("short BEGIN_REQUEST: %v, want errShortBody", err)
	}
	er, err := ParseEndRequest(unhex("01 02 03 04 02 00 00 00"))
	if err != nil || er != (EndRequest{AppStatus: 0x01020304, ProtocolStatus: Overloaded}) {
		t.Errorf("END_REQUEST body: %+v, %v", er, err)
	}
	if _, err := ParseEndRequest(unhex("00 00 00 00 00")); !errors.Is(err, errShortBody) {
		t.Errorf("short END_REQUEST: %v, want errShortBody", err)
	}
	ut, err := ParseUnknownType(unhex("0c 00 00 00 00 00 00 00"))
	if err != nil || ut != 12 {
		t.Errorf("UNKNOWN_TYPE body: %v, %v", ut, err)
	}
	if _, err := ParseUnknownType(nil); !errors.Is(err, errShortBody) {
		t.Errorf("empty UNKNOWN_TYPE: %v, want errShortBody", err)
	}
	// A malformed query is answered with the names before the fault.
	q := append(AppendPair(nil, MaxConns, ""), 0x80)
	b, err := AppendGetValuesResult(nil, q, func(string) (string, bool) { return "10", true })
	if !errors.Is(err, errPairs) || !bytes.Equal(b, AppendRecord(nil, TypeGetValuesResult, 0, AppendPair(nil, MaxConns, "10"))) {
		t.Errorf("malformed GET_VALUES: % x, %v", b, err)
	}
	// An answer that does not fit one record is sent empty.
	long := strings.Repeat("v", MaxContent)
	b, _ = AppendGetValuesResult(nil, AppendPair(nil, MaxConns, ""), func(string) (string, bool) { return long, true })
	if !bytes.Equal(b, unhex("01 0a 00 00 00 00 00 00")) {
		t.Errorf("oversized GET_VALUES_RESULT: % x", b[:min(len(b), 16)])
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{TypeGetValuesResult.String(), "GET_VALUES_RESULT"},
		{Type(0).String(), "type 0"},
		{Type(200).String(), "type 200"},
		{RoleAuthorizer.String(), "AUTHORIZER"},
		{Role(9).String(), "role 9"},
		{Overloaded.String(), "FCGI_OVERLOADED"},
		{ProtocolStatus(7).String(), "protocolStatus 7"},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
	}
}

func TestReadErrors(t *testing.T) {
	// A reader skips padding whatever its length, not only to 8.
	b := unhex("01 06 00 01 00 02 05 00 | 68 69 | 00 00 00 00 00 | 01 06 00 01 00 00 00 00")
	r := bytes.NewReader(b)
	h, content, err := ReadRecord(r, nil)
	if err != nil || string(content) != "hi" || h.PaddingLength != 5 {
		t.Fatalf("padded record: %+v %q %v", h, content, err)
	}
	h, content, err = ReadRecord(r, nil)
	if err != nil || len(content) != 0 || h.Type != TypeStdout {
		t.Fatalf("record after padding: %+v %q %v", h, content, err)
	}
	for _, tc := range []struct {
		name, bytes string
		want        error
	}{
		{"version 2", "02 06 00 01 00 00 00 00", ErrVersion},
		{"no input", "", io.EOF},
		{"header cut short", "01 06 00", io.ErrUnexpectedEOF},
		{"content cut short", "01 06 00 01 00 05 03 00 | 48 65", io.ErrUnexpectedEOF},
		{"padding cut short", "01 06 00 01 00 05 03 00 | 48 65 6c 6c 6f 00", io.ErrUnexpectedEOF},
	} {
		in := unhex(tc.bytes)
		if _, _, err := NewReader(bufio.NewReader(bytes.NewReader(in))).Next(); !errors.Is(err, tc.want) {
			t.Errorf("Reader, %s: %v, want %v", tc.name, err, tc.want)
		}
		_, _, err := ReadRecord(bytes.NewReader(in), nil)
		if tc.want == io.EOF && err != io.EOF || tc.want != io.EOF && !errors.Is(err, tc.want) {
			t.Errorf("ReadRecord, %s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// Records larger than the bufio.Reader's buffer are read whole too, and no
// record costs an allocation once the Reader is warm.
func TestReaderLargeRecordsNoAllocs(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 10000) // 160,000 bytes: three records
	in := AppendStream(nil, TypeStdout, 1, body)
	in = AppendRecord(in, TypeStdout, 1, nil)
	in = AppendEndRequest(in, 1, 0, RequestComplete)
	src := bytes.NewReader(in)
	br := bufio.NewReaderSize(src, 16<<10)
	r := NewReader(br)
	read := func() {
		src.Reset(in)
		br.Reset(src)
		var got int
		for {
			h, content, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if h.Type == TypeEndRequest {
				break
			}
			if !bytes.Equal(content, body[got:got+len(content)]) {
				t.Fatalf("content at %d differs", got)
			}
			got += len(content)
		}
		if got != len(body) {
			t.Fatalf("read %d bytes, want %d", got, len(body))
		}
	}
	read()
	if n := testing.AllocsPerRun(10, read); n != 0 {
		t.Errorf("%v allocations per response", n)
	}
}

func TestStreamSplit(t *testing.T) {
	p := bytes.Repeat([]byte{'x'}, MaxChunk+10)
	b := AppendStream(nil, TypeStdout, 1, p)
	if len(b) != streamSize(len(p)) {
		t.Errorf("AppendStream made %d bytes, streamSize says %d", len(b), streamSize(len(p)))
	}
	r := bytes.NewReader(b)
	h1, c1, err := ReadRecord(r, nil)
	if err != nil || int(h1.ContentLength) != MaxChunk || h1.PaddingLength != 0 || len(c1) != MaxChunk {
		t.Fatalf("first record %+v %v", h1, err)
	}
	h2, _, err := ReadRecord(r, nil)
	if err != nil || h2.ContentLength != 10 || h2.PaddingLength != 6 {
		t.Fatalf("second record %+v %v", h2, err)
	}
	if len(AppendStream(nil, TypeStdout, 1, nil)) != 0 {
		t.Error("an empty write must not end the stream")
	}
	if streamSize(0) != 0 || streamSize(MaxChunk) != HeaderLen+MaxChunk {
		t.Errorf("streamSize(0)=%d streamSize(MaxChunk)=%d", streamSize(0), streamSize(MaxChunk))
	}
}

// countWriter counts writes.
type countWriter struct {
	bytes.Buffer
	writes int
}

func (w *countWriter) Write(p []byte) (int, error) { w.writes++; return w.Buffer.Write(p) }

func TestWriter(t *testing.T) {
	var out countWriter
	w := NewWriter(&out, TypeStdin, 3)
	p := bytes.Repeat([]byte{'y'}, MaxChunk+1)
	if n, err := w.Write(p); n != len(p) || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
	if n, err := w.Write(nil); n != 0 || err != nil || out.writes != 2 {
		t.Fatalf("empty Write: %d, %v, %d writes", n, err, out.writes)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := AppendRecord(AppendStream(nil, TypeStdin, 3, p), TypeStdin, 3, nil)
	if !bytes.Equal(out.Bytes(), want) || out.writes != 3 {
		t.Errorf("%d writes; bytes equal: %v", out.writes, bytes.Equal(out.Bytes(), want))
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
		rd := NewReader(bufio.NewReaderSize(bytes.NewReader(b), 16))
		for {
			h, content, err := ReadRecord(r, nil)
			h2, content2, err2 := rd.Next()
			if (err == nil) != (err2 == nil) || h != h2 || !bytes.Equal(content, content2) {
				t.Fatalf("ReadRecord %+v %v; Reader %+v %v", h, err, h2, err2)
			}
			if err != nil {
				return
			}
			if len(content) != int(h.ContentLength) {
				t.Fatalf("content %d bytes, header says %d", len(content), h.ContentLength)
			}
			// What decodes encodes back to a record that decodes the same.
			e := AppendRecord(nil, h.Type, h.ID, content)
			if len(e)%8 != 0 {
				t.Fatalf("encoded record of %d bytes is not aligned", len(e))
			}
			h3, c3, err := ReadRecord(bytes.NewReader(e), nil)
			if err != nil || h3.Type != h.Type || h3.ID != h.ID || !bytes.Equal(c3, content) {
				t.Fatalf("round trip: %+v %v", h3, err)
			}
			switch h.Type {
			case TypeBeginRequest:
				if br, err := ParseBeginRequest(content); err == nil &&
					!bytes.Equal(AppendBeginRequest(nil, h.ID, br.Role, br.Flags)[HeaderLen:HeaderLen+3], content[:3]) {
					t.Fatalf("BEGIN_REQUEST %+v does not round-trip", br)
				}
			case TypeEndRequest:
				if er, err := ParseEndRequest(content); err == nil &&
					!bytes.Equal(AppendEndRequest(nil, h.ID, er.AppStatus, er.ProtocolStatus)[HeaderLen:HeaderLen+5], content[:5]) {
					t.Fatalf("END_REQUEST %+v does not round-trip", er)
				}
			case TypeGetValues:
				AppendGetValuesResult(nil, content, func(n string) (string, bool) { return n, true })
			}
		}
	})
}
