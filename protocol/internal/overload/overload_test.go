package overload

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatewayd/gatewayd/internal/linger"
)

// TestLogOneLinePerInterval: a flood of refusals is one line, which names
// the limit and the peer (a unix socket's unnamed peer as "unix").
func TestLogOneLinePerInterval(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	var l Log
	tcp := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}
	l.Refused(zap.New(core), "over max_conns", 8, tcp)
	for range 99 {
		l.Refused(zap.New(core), "over max_conns", 8, &net.UnixAddr{Name: "", Net: "unix"})
	}
	lines := logs.All()
	if len(lines) != 1 {
		t.Fatalf("%d lines for 100 refusals, want 1", len(lines))
	}
	f := lines[0].ContextMap()
	if f["max_conns"] != int64(8) || f["remote"] != "127.0.0.1:4000" || f["suppressed"] != int64(0) {
		t.Errorf("fields %v", f)
	}
}

// TestAdmit: served within max_conns; over it answered while fewer than
// MaxAnswering are; dropped past that. MayDrain allows as many again.
func TestAdmit(t *testing.T) {
	for _, tc := range []struct {
		served, answering, max int
		want                   Decision
	}{
		{0, 0, 1, Serve},
		{7, MaxAnswering, 8, Serve},
		{8, 0, 8, Refuse},
		{9, MaxAnswering - 1, 8, Refuse},
		{8, MaxAnswering, 8, Drop},
	} {
		if got := Admit(tc.served, tc.answering, tc.max); got != tc.want {
			t.Errorf("Admit(%d, %d, %d) = %v, want %v", tc.served, tc.answering, tc.max, got, tc.want)
		}
	}
	if !MayDrain(7, 8) || MayDrain(8, 8) {
		t.Errorf("MayDrain(7, 8) = %v, MayDrain(8, 8) = %v; want true, false", MayDrain(7, 8), MayDrain(8, 8))
	}
}

// TestAnswer: the answer goes out once the peer's request begins, and what
// the peer still sends is drained, not reset; a peer that sends nothing
// is closed without an answer once linger.Timeout passes.
func TestAnswer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go Answer(c, "busy\n", 0)
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	c := dial()
	if _, err := c.Write(bytes.Repeat([]byte("r"), 64<<10)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "busy\n" {
		t.Fatalf("answer %q, %v", got, err)
	}
	// Still sending after the answer, as a web server sends an upload.
	if _, err := c.Write(bytes.Repeat([]byte("r"), 64<<10)); err != nil {
		t.Errorf("the rest of the request: %v (a reset instead of a drain)", err)
	}
	silent := dial()
	start := time.Now()
	n, err := silent.Read(make([]byte, 16))
	if n != 0 || err == nil {
		t.Errorf("a silent peer read %d bytes, %v; want the end without an answer", n, err)
	}
	if d := time.Since(start); d < linger.Timeout/2 {
		t.Errorf("a silent peer was closed after %v; it has linger.Timeout (%v) to begin", d, linger.Timeout)
	}
}
