package fcgiwire

import "iter"

// The bounds a zero field of Limits means.
const (
	// defaultMaxPairsBytes is the default bound on a pair stream's size: the
	// FastCGI front end's default max_params_bytes.
	defaultMaxPairsBytes = 64 << 10
	// defaultMaxPairs is the default bound on the number of pairs.
	defaultMaxPairs = 1024
)

// Limits bound what DecodePairs accepts. Zero means the default, negative
// means no bound.
type Limits struct {
	// MaxBytes bounds the whole stream; defaultMaxPairsBytes.
	MaxBytes int
	// MaxPairs bounds the number of pairs; defaultMaxPairs.
	MaxPairs int
}

func bound(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return int(^uint(0) >> 1)
	}
	return v
}

// appendPairLen appends a name-value length: one byte up to 127, else four
// bytes big-endian with the top bit set.
func appendPairLen(dst []byte, n int) []byte {
	if n <= 127 {
		return append(dst, byte(n))
	}
	return append(dst, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
}

// AppendPair appends one name-value pair.
func AppendPair(dst []byte, name, value string) []byte {
	dst = appendPairLen(dst, len(name))
	dst = appendPairLen(dst, len(value))
	dst = append(dst, name...)
	return append(dst, value...)
}

// pairSize is how many bytes AppendPair appends for name and value.
func pairSize(name, value string) int {
	return lenSize(len(name)) + lenSize(len(value)) + len(name) + len(value)
}

func lenSize(n int) int {
	if n <= 127 {
		return 1
	}
	return 4
}

// AppendParams appends the FCGI_PARAMS stream of request id holding pairs,
// straight from the sequence (a map's maps.All, a slice's pairs) with no
// copy in between, and the empty record that ends it. A stream longer than
// MaxChunk is split into several records, pairs straddling them as the
// specification allows. The sequence costs three small allocations; a hot
// path that wants none appends its pairs between OpenStream and CloseStream.
func AppendParams(dst []byte, id uint16, pairs iter.Seq2[string, string]) []byte {
	dst, mark := OpenStream(dst)
	for name, value := range pairs {
		dst = AppendPair(dst, name, value)
	}
	return CloseStream(dst, mark, TypeParams, id)
}

// OpenStream reserves room for a record header at the end of dst and returns
// the grown dst and a mark for CloseStream. The caller appends the stream's
// content (with AppendPair, for FCGI_PARAMS) and then calls CloseStream.
func OpenStream(dst []byte) ([]byte, int) {
	return append(dst, zeros[:HeaderLen]...), len(dst)
}

// CloseStream turns the content appended to dst since OpenStream returned
// mark into records of type t for request id, split at MaxChunk, and appends
// the empty record that ends the stream.
func CloseStream(dst []byte, mark int, t Type, id uint16) []byte {
	dst = frame(dst, mark, t, id)
	return AppendRecord(dst, t, id, nil)
}

// frame turns the content that follows the header slot at dst[start:] into
// records of type t: one when it fits MaxChunk (the usual case: the header is
// filled in and padding added), else several, moving the chunks back to make
// room for their headers, last chunk first so that none is overwritten.
func frame(dst []byte, start int, t Type, id uint16) []byte {
	n := len(dst) - start - HeaderLen
	if n == 0 {
		return dst[:start]
	}
	if n <= MaxChunk {
		appendHeader(dst[start:start], t, id, n)
		return append(dst, zeros[:padding(n)]...)
	}
	size := streamSize(n)
	dst = append(dst, make([]byte, start+size-len(dst))...)
	chunks := (n + MaxChunk - 1) / MaxChunk
	for i := chunks - 1; i >= 0; i-- {
		from := start + HeaderLen + i*MaxChunk
		k := min(MaxChunk, n-i*MaxChunk)
		to := start + i*(HeaderLen+MaxChunk)
		copy(dst[to+HeaderLen:], dst[from:from+k])
		appendHeader(dst[to:to], t, id, k)
		if p := padding(k); p > 0 {
			copy(dst[to+HeaderLen+k:], zeros[:p])
		}
	}
	return dst
}

// DecodePairs calls fn for each name-value pair of the whole stream s, within
// lim. Names and values are substrings of s, so that one allocation (the
// caller's conversion to string) holds a request's whole environment. A pair
// cut short is errPairs: callers hand it whole streams, joined from their
// records up to the empty one, never single records. Over lim it is
// errPairLimit, after fn saw the pairs within it.
func DecodePairs(s string, lim Limits, fn func(name, value string)) error {
	if len(s) > bound(lim.MaxBytes, defaultMaxPairsBytes) {
		return errPairLimit
	}
	left := bound(lim.MaxPairs, defaultMaxPairs)
	for len(s) > 0 {
		if left == 0 {
			return errPairLimit
		}
		left--
		nl, n1 := pairLen(s)
		if n1 == 0 {
			return errPairs
		}
		vl, n2 := pairLen(s[n1:])
		if n2 == 0 {
			return errPairs
		}
		start := n1 + n2
		if nl > len(s)-start || vl > len(s)-start-nl {
			return errPairs
		}
		fn(s[start:start+nl], s[start+nl:start+nl+vl])
		s = s[start+nl+vl:]
	}
	return nil
}

// pairLen decodes a length at the start of s and returns it and how many
// bytes it took; n is 0 when s is too short.
func pairLen(s string) (length, n int) {
	if len(s) == 0 {
		return 0, 0
	}
	if s[0]&0x80 == 0 {
		return int(s[0]), 1
	}
	if len(s) < 4 {
		return 0, 0
	}
	return int(uint32(s[0]&0x7f)<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])), 4
}
