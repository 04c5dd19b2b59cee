package scgiwire

import "testing"

// The spec's example request, byte for byte.
func TestSpecExample(t *testing.T) {
	got := AppendNetstring(nil, AppendHeaders(nil, []Pair{
		{"CONTENT_LENGTH", "27"}, {"SCGI", "1"}, {"REQUEST_METHOD", "POST"}, {"REQUEST_URI", "/deepthought"},
	}))
	want := "70:CONTENT_LENGTH\x0027\x00SCGI\x001\x00REQUEST_METHOD\x00POST\x00REQUEST_URI\x00/deepthought\x00,"
	if string(got) != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	got = AppendRequest(nil, map[string]string{"REQUEST_URI": "/deepthought", "REQUEST_METHOD": "POST", "SCGI": "2", "BAD\x00": "x"}, 27)
	if string(got) != want {
		t.Fatalf("AppendRequest: got %q\nwant %q", got, want)
	}
	if got := AppendNetstring(nil, nil); string(got) != "0:," {
		t.Fatalf("empty netstring %q", got)
	}
}
