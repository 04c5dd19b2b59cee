package static

import (
	"math"
	"strconv"
	"strings"
)

// maxRanges bounds the ranges one request may ask for, as Apache's
// MaxRanges default does: a Range of more is answered with the whole file,
// so that thousands of tiny or overlapping ranges cannot make a response of
// thousands of parts (RFC 9110 section 14.2 lets a server ignore them).
const maxRanges = 200

// fitRange checks the Range field v against a file of size bytes by RFC
// 9110 section 14 and returns the field http.ServeContent is to see, which
// then keeps its order of evaluation (preconditions and If-Range first):
//
//   - "" — the whole file, 200 — for a range unit other than bytes (which
//     a server must ignore), an empty file (no range of it can be written
//     as a Content-Range), or more than maxRanges ranges;
//   - "bytes=SIZE-", which ServeContent answers 416 with
//     "Content-Range: bytes */SIZE", when no range is satisfiable
//     ("bytes=-0", a start past the end) or the field is malformed;
//   - otherwise the satisfiable ranges alone, ends past the file clamped to
//     it, numbers too large for int64 read as "past the end".
func fitRange(v string, size int64) string {
	unit, set, ok := strings.Cut(v, "=")
	if !ok {
		return unsatisfiable(size)
	}
	if !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return ""
	}
	if size == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("bytes=")
	n, specs := 0, 0
	for spec := range strings.SplitSeq(set, ",") {
		spec = strings.Trim(spec, " \t")
		if spec == "" {
			continue // RFC 9110 section 5.6.1: empty list elements are allowed
		}
		if specs++; specs > maxRanges {
			return ""
		}
		first, last, ok := strings.Cut(spec, "-")
		if !ok {
			return unsatisfiable(size)
		}
		var start, end int64
		if first == "" {
			suffix, ok := digits(last)
			if !ok {
				return unsatisfiable(size)
			}
			if suffix == 0 {
				continue // "bytes=-0": the last zero bytes
			}
			start, end = max(size-suffix, 0), size-1
		} else {
			var ok bool
			if start, ok = digits(first); !ok {
				return unsatisfiable(size)
			}
			end = math.MaxInt64
			if last != "" {
				if end, ok = digits(last); !ok || end < start {
					return unsatisfiable(size)
				}
			}
			if start >= size {
				continue
			}
			end = min(end, size-1)
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteString(strconv.FormatInt(start, 10))
		b.WriteByte('-')
		b.WriteString(strconv.FormatInt(end, 10))
	}
	if n == 0 {
		return unsatisfiable(size)
	}
	return b.String()
}

// unsatisfiable is a Range that no file of size bytes satisfies.
func unsatisfiable(size int64) string { return "bytes=" + strconv.FormatInt(size, 10) + "-" }

// digits reads 1*DIGIT; a number too large for int64 is math.MaxInt64,
// which is past the end of every file.
func digits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxInt64-9)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
