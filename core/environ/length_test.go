package environ

import (
	"strconv"
	"strings"
	"testing"
)

var contentLengths = []struct {
	in   string
	want int64
	ok   bool
}{
	{"0", 0, true},
	{"15", 15, true},
	{"007", 7, true},
	{"999999999999999999", 999999999999999999, true}, // 18 digits
	{"", 0, false},
	{"-1", 0, false},
	{"-0", 0, false},
	{"+5", 0, false},
	{" 5", 0, false},
	{"5 ", 0, false},
	{"1e3", 0, false},
	{"0x10", 0, false},
	{"abc", 0, false},
	{"1,2", 0, false},
	{"1000000000000000000", 0, false},  // 19 digits
	{"99999999999999999999", 0, false}, // 20 digits: past int64
	{"0000000000000000001", 0, false},  // 19 characters, small value
	{"１２", 0, false},                   // fullwidth digits
	{"1\x00", 0, false},
}

func TestParseContentLength(t *testing.T) {
	for _, tt := range contentLengths {
		n, ok := ParseContentLength(tt.in)
		if n != tt.want || ok != tt.ok {
			t.Errorf("ParseContentLength(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParseContentLength: accepted means 1 to 18 ASCII digits and the value
// strconv reads; anything else is refused.
func FuzzParseContentLength(f *testing.F) {
	for _, tt := range contentLengths {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := ParseContentLength(s)
		digitsOnly := s != "" && len(s) <= 18 && strings.Trim(s, "0123456789") == ""
		if ok != digitsOnly {
			t.Fatalf("ParseContentLength(%q) ok = %v", s, ok)
		}
		if !ok {
			return
		}
		want, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n != want || n < 0 {
			t.Fatalf("ParseContentLength(%q) = %d, strconv %d, %v", s, n, want, err)
		}
	})
}
