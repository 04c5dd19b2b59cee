package stderrlog

import (
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func lines(logs *observer.ObservedLogs, msg string) []string {
	var out []string
	for _, e := range logs.FilterMessage(msg).All() {
		out = append(out, e.ContextMap()["line"].(string))
	}
	return out
}

func TestLines(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	var hooked []string
	w := New(zap.New(core), "script stderr", func(l []byte) { hooked = append(hooked, string(l)) })
	for _, p := range []string{"first li", "ne\r\nsecond\n\n\nthi", "rd"} {
		if n, err := w.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	w.Flush()
	want := []string{"first line", "second", "third"}
	if got := lines(logs, "script stderr"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("logged %q, want %q", got, want)
	}
	if strings.Join(hooked, "|") != strings.Join(want, "|") {
		t.Errorf("onLine saw %q", hooked)
	}
}

// TestBounds: a line without end is logged in MaxLine pieces, and no more
// than MaxLines entries are logged; the rest is counted in one entry.
func TestBounds(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	w := New(zap.New(core), "upstream stderr", nil)
	long := strings.Repeat("x", 3*MaxLine+5)
	w.Write([]byte(long + "\n"))
	got := lines(logs, "upstream stderr")
	if len(got) != 4 || len(got[0]) != MaxLine || len(got[3]) != 5 {
		t.Fatalf("a %d-byte line logged as %d entries", len(long), len(got))
	}
	for range 2 * MaxLines {
		w.Write([]byte("flood\n"))
	}
	w.Flush()
	if n := logs.FilterMessage("upstream stderr").Len(); n != MaxLines {
		t.Errorf("%d entries logged, want %d", n, MaxLines)
	}
	d := logs.FilterMessage("upstream stderr lines dropped").All()
	if len(d) != 1 || d[0].ContextMap()["lines"].(int64) != 2*MaxLines+4-MaxLines {
		t.Errorf("dropped entry: %+v", d)
	}
}

func FuzzWriter(f *testing.F) {
	f.Add([]byte("a\nb\r\n\nc"), 3)
	f.Fuzz(func(t *testing.T, p []byte, split int) {
		core, logs := observer.New(zap.WarnLevel)
		w := New(zap.New(core), "m", nil)
		if split < 0 || split > len(p) {
			split = len(p)
		}
		w.Write(p[:split])
		w.Write(p[split:])
		w.Flush()
		for _, e := range logs.FilterMessage("m").All() {
			l := e.ContextMap()["line"].(string)
			if len(l) == 0 || len(l) > MaxLine || strings.Contains(l, "\n") {
				t.Fatalf("entry %q", l)
			}
		}
	})
}
