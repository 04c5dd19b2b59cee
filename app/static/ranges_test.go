package static

import (
	"strconv"
	"strings"
	"testing"
)

var rangeTests = []struct {
	in   string
	size int64
	want string
}{
	{"bytes=2-5", 16, "bytes=2-5"},
	{"bytes=-3", 16, "bytes=13-15"},
	{"bytes=10-", 16, "bytes=10-15"},
	{"bytes=0-1,10-12", 16, "bytes=0-1,10-12"},
	{"bytes= 0-1 , ,10-12 ", 16, "bytes=0-1,10-12"},
	{"BYTES=0-0", 16, "bytes=0-0"},
	// RFC 9110 section 14.1.1: a zero suffix is unsatisfiable.
	{"bytes=-0", 16, "bytes=16-"},
	{"bytes=-0", 1 << 20, "bytes=1048576-"},
	{"bytes=0-1,-0", 16, "bytes=0-1"},
	{"bytes=100-200", 16, "bytes=16-"},
	{"bytes=100-200,2-3", 16, "bytes=2-3"},
	{"bytes=16-", 16, "bytes=16-"},
	{"bytes=-100", 16, "bytes=0-15"},
	{"bytes=0-99999999999999999999999", 16, "bytes=0-15"},
	{"bytes=99999999999999999999999-", 16, "bytes=16-"},
	{"bytes=-99999999999999999999999", 16, "bytes=0-15"},
	{"bytes=9223372036854775807-", 16, "bytes=16-"},
	// Malformed: 416.
	{"bytes=5-2", 16, "bytes=16-"},
	{"bytes=abc", 16, "bytes=16-"},
	{"bytes=0-1,abc", 16, "bytes=16-"},
	{"bytes=+1-2", 16, "bytes=16-"},
	{"bytes=1--2", 16, "bytes=16-"},
	{"bytes=-", 16, "bytes=16-"},
	{"bytes=", 16, "bytes=16-"},
	{"bytes", 16, "bytes=16-"},
	{"bytes=0x1-2", 16, "bytes=16-"},
	// Ignored: the whole file.
	{"items=0-5", 16, ""},
	{"bytes=0-0", 0, ""},
	{"bytes=-0", 0, ""},
	{"bytes=-5", 0, ""},
	{"bytes=" + strings.Repeat("0-0,", maxRanges+1), 1 << 20, ""},
}

func TestFitRange(t *testing.T) {
	for _, tt := range rangeTests {
		if got := fitRange(tt.in, tt.size); got != tt.want {
			t.Errorf("fitRange(%q, %d) = %q, want %q", tt.in, tt.size, got, tt.want)
		}
	}
	many := "bytes=" + strings.Repeat("0-0,", maxRanges)
	if got := fitRange(many, 16); strings.Count(got, "0-0") != maxRanges {
		t.Errorf("%d ranges, the most allowed, were not kept: %q", maxRanges, got)
	}
}

// FuzzFitRange: whatever the field, the result is empty or a valid byte
// range set whose every range lies inside the file, or the one
// unsatisfiable form; never more than maxRanges ranges.
func FuzzFitRange(f *testing.F) {
	for _, tt := range rangeTests {
		f.Add(tt.in, tt.size)
	}
	f.Fuzz(func(t *testing.T, in string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		got := fitRange(in, size)
		if got == "" || got == unsatisfiable(size) {
			return
		}
		set, ok := strings.CutPrefix(got, "bytes=")
		if !ok {
			t.Fatalf("fitRange(%q, %d) = %q", in, size, got)
		}
		specs := strings.Split(set, ",")
		if len(specs) > maxRanges {
			t.Fatalf("fitRange(%q, %d): %d ranges", in, size, len(specs))
		}
		for _, s := range specs {
			a, b, _ := strings.Cut(s, "-")
			start, err1 := strconv.ParseInt(a, 10, 64)
			end, err2 := strconv.ParseInt(b, 10, 64)
			if err1 != nil || err2 != nil || start < 0 || start > end || end >= size {
				t.Fatalf("fitRange(%q, %d) = %q: range %q outside the file", in, size, got, s)
			}
		}
	})
}
