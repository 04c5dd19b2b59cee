package fcgiwire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
)

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
		got, want := AppendPair(nil, tc.name, tc.value), unhex(tc.bytes)
		if !bytes.Equal(got, want) {
			t.Errorf("pair %.10q=%.10q:\n got % x\nwant % x", tc.name, tc.value, got[:min(len(got), 12)], want[:min(len(want), 12)])
		}
		if pairSize(tc.name, tc.value) != len(want) {
			t.Errorf("pairSize(%.10q, %.10q) = %d, want %d", tc.name, tc.value, pairSize(tc.name, tc.value), len(want))
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
		if err := DecodePairs(string(b), Limits{}, func(n, v string) { got = append(got, [2]string{n, v}) }); err != nil {
			t.Fatalf("%.10q: %v", tc.name, err)
		}
		if len(got) != 1 || got[0] != [2]string{tc.name, tc.value} {
			t.Errorf("%.10q: decoded %.20q", tc.name, got)
		}
	}
	n := 0
	if err := DecodePairs(string(all), Limits{}, func(string, string) { n++ }); err != nil || n != len(pairTable) {
		t.Errorf("all pairs in one stream: %d pairs, %v", n, err)
	}
	for _, bad := range []string{
		"0b",                   // no value length
		"0b 02 53 45",          // name cut short
		"80 00 00",             // 4-byte length cut short
		"01 80 00 03 e8 58 76", // value cut short
		"ff ff ff ff 00",       // 2 GiB name in a tiny stream
	} {
		if err := DecodePairs(string(unhex(bad)), Limits{}, func(string, string) {}); !errors.Is(err, errPairs) {
			t.Errorf("DecodePairs(% x) = %v, want errPairs", unhex(bad), err)
		}
	}
}

func TestPairsLimits(t *testing.T) {
	three := string(unhex("01 00 41 01 00 42 01 00 43"))
	for _, tc := range []struct {
		lim  Limits
		seen int
		err  error
	}{
		{Limits{}, 3, nil},
		{Limits{MaxPairs: 3}, 3, nil},
		{Limits{MaxPairs: 2}, 2, errPairLimit},
		{Limits{MaxPairs: -1, MaxBytes: -1}, 3, nil},
		{Limits{MaxBytes: 9}, 3, nil},
		{Limits{MaxBytes: 8}, 0, errPairLimit},
	} {
		seen := 0
		err := DecodePairs(three, tc.lim, func(string, string) { seen++ })
		if seen != tc.seen || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%+v: %d pairs, %v; want %d, %v", tc.lim, seen, err, tc.seen, tc.err)
		}
	}
	// The defaults hold without a word from the caller.
	many := strings.Repeat("\x00\x00", defaultMaxPairs+1)
	if err := DecodePairs(many, Limits{}, func(string, string) {}); !errors.Is(err, errPairLimit) {
		t.Errorf("%d pairs under the default limit: %v", defaultMaxPairs+1, err)
	}
	big := string(AppendPair(nil, "X", strings.Repeat("v", defaultMaxPairsBytes)))
	if err := DecodePairs(big, Limits{}, func(string, string) {}); !errors.Is(err, errPairLimit) {
		t.Errorf("%d bytes under the default limit: %v", len(big), err)
	}
}

// counting is n bytes that do not repeat within a record, so that a chunk
// moved to the wrong place shows.
func counting(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%d,", i)
	}
	return b.String()[:n]
}

// collect reads a PARAMS stream up to its empty record and decodes it whole,
// as a server does.
func collect(t *testing.T, b []byte) (map[string]string, int) { return collectID(t, b, 9) }

func collectID(t *testing.T, b []byte, id uint16) (map[string]string, int) {
	t.Helper()
	r := NewReader(bufio.NewReader(bytes.NewReader(b)))
	var stream []byte
	records := 0
	for {
		h, content, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", records, err)
		}
		if h.Type != TypeParams || h.ID != id || h.Len()%8 != 0 {
			t.Fatalf("record %d: %+v", records, h)
		}
		records++
		if len(content) == 0 {
			break
		}
		stream = append(stream, content...)
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the stream: %v", err)
	}
	got := map[string]string{}
	if err := DecodePairs(string(stream), Limits{MaxBytes: -1}, func(n, v string) { got[n] = v }); err != nil {
		t.Fatal(err)
	}
	return got, records
}

// AppendParams splits a long stream into records, pairs straddling them, and
// a reader joining the records gets the pairs back.
func TestAppendParamsStraddles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		records int
	}{
		{"empty", map[string]string{}, 1},
		{"one record", map[string]string{"A": "1", "B": strings.Repeat("b", 300)}, 2},
		{"exactly MaxChunk", map[string]string{"N": strings.Repeat("v", MaxChunk-6)}, 2},
		{"three records", map[string]string{
			"BIG": counting(100000), "HTTP_COOKIE": counting(40000), "Z": "z",
		}, 4},
	} {
		prefix := []byte("kept")
		b := AppendParams(prefix, 9, maps.All(tc.env))
		if string(b[:4]) != "kept" {
			t.Fatalf("%s: prefix overwritten", tc.name)
		}
		size := 0
		for n, v := range tc.env {
			size += pairSize(n, v)
		}
		if want := 4 + streamSize(size) + HeaderLen; len(b) != want {
			t.Errorf("%s: %d bytes, want %d", tc.name, len(b), want)
		}
		got, records := collect(t, b[4:])
		if !maps.Equal(got, tc.env) || records != tc.records {
			t.Errorf("%s: %d records (want %d), pairs equal: %v", tc.name, records, tc.records, maps.Equal(got, tc.env))
		}
	}
	// The order of the sequence is the order on the wire.
	keys := []string{"Z", "A", "M"}
	b := AppendParams(nil, 1, func(yield func(string, string) bool) {
		for _, k := range keys {
			if !yield(k, k) {
				return
			}
		}
	})
	var order []string
	h := ParseHeader(b)
	DecodePairs(string(b[HeaderLen:HeaderLen+int(h.ContentLength)]), Limits{}, func(n, _ string) { order = append(order, n) })
	if !slices.Equal(order, keys) {
		t.Errorf("order %q", order)
	}
}

func FuzzPairs(f *testing.F) {
	for _, tc := range pairTable {
		f.Add(unhex(tc.bytes))
	}
	f.Add(unhex("80 00 00"))
	f.Add(unhex("ff ff ff ff 00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var names, values []string
		err := DecodePairs(string(b), Limits{MaxBytes: -1, MaxPairs: -1}, func(n, v string) {
			names = append(names, n)
			values = append(values, v)
		})
		if err != nil {
			if !errors.Is(err, errPairs) {
				t.Fatalf("error %v is not errPairs", err)
			}
			return
		}
		// A stream that decodes re-encodes to pairs that decode the same
		// (not always to the same bytes: a short length may come in four),
		// and through AppendParams to records whose joined content is that
		// encoding.
		var e []byte
		for i := range names {
			e = AppendPair(e, names[i], values[i])
		}
		i := 0
		if err := DecodePairs(string(e), Limits{MaxBytes: -1, MaxPairs: -1}, func(n, v string) {
			if n != names[i] || v != values[i] {
				t.Fatalf("pair %d: %q=%q, want %q=%q", i, n, v, names[i], values[i])
			}
			i++
		}); err != nil || i != len(names) {
			t.Fatalf("re-decoding: %d pairs, %v", i, err)
		}
		rec := AppendParams(nil, 1, func(yield func(string, string) bool) {
			for i := range names {
				if !yield(names[i], values[i]) {
					return
				}
			}
		})
		r := NewReader(bufio.NewReader(bytes.NewReader(rec)))
		var joined []byte
		for {
			_, content, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if len(content) == 0 {
				break
			}
			joined = append(joined, content...)
		}
		if !bytes.Equal(joined, e) {
			t.Fatalf("AppendParams carried % x, want % x", joined, e)
		}
	})
}

// OpenStream and CloseStream make the same records as AppendParams, and
// cost no allocation when dst has room.
func TestOpenCloseStream(t *testing.T) {
	env := map[string]string{"A": "1", "BIG": counting(140000)}
	want := AppendParams(nil, 2, maps.All(env))
	got, mark := OpenStream([]byte("kept"))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		got = AppendPair(got, k, env[k])
	}
	got = CloseStream(got, mark, TypeParams, 2)
	if string(got[:4]) != "kept" || len(got)-4 != len(want) {
		t.Fatalf("%d bytes after the prefix, want %d", len(got)-4, len(want))
	}
	if m, _ := collectID(t, got[4:], 2); !maps.Equal(m, env) {
		t.Error("pairs differ")
	}
	buf := make([]byte, 0, 4096)
	small := map[string]string{"REQUEST_METHOD": "GET", "SERVER_PORT": "80"}
	if n := testing.AllocsPerRun(100, func() {
		b, mark := OpenStream(buf[:0])
		for k, v := range small {
			b = AppendPair(b, k, v)
		}
		buf = CloseStream(b, mark, TypeParams, 1)
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
