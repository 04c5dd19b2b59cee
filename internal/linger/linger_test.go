package linger

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestCloseKeepsTheAnswer: a connection closed while the peer is still
// sending reaches the peer as the whole answer and an end of file, not a
// reset.
func TestCloseKeepsTheAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	answer := make([]byte, 256<<10)
	for i := range answer {
		answer[i] = byte(i)
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		// Read one byte of the request and leave the rest unread.
		var b [1]byte
		_, _ = io.ReadFull(c, b[:])
		_, _ = c.Write(answer)
		Close(c, c, 0)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("after %d bytes: %v", len(got), err)
	}
	if len(got) != len(answer) {
		t.Fatalf("got %d bytes of the answer, want %d", len(got), len(answer))
	}
}

// TestStartBounded: the drain ends at max when it is shorter than Timeout,
// and a peer that never stops sending cannot hold it past Timeout.
func TestStartBounded(t *testing.T) {
	a, b := tcpPair(t)
	defer b.Close()
	before := time.Now()
	deadline, ok := Start(a, 50*time.Millisecond)
	if !ok {
		t.Fatal("a TCP connection could not be half-closed")
	}
	if d := deadline.Sub(before); d < 50*time.Millisecond || d > Timeout {
		t.Errorf("deadline %v after start, want 50ms", d)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := b.Write(buf); err != nil {
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, a)
		_ = a.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(Timeout + 5*time.Second):
		t.Fatal("a peer that keeps sending held the drain past its deadline")
	}

	c, d := tcpPair(t)
	defer c.Close()
	defer d.Close()
	before = time.Now()
	deadline, ok = Start(c, time.Hour)
	if !ok {
		t.Fatal("a TCP connection could not be half-closed")
	}
	if got := deadline.Sub(before); got > Timeout+time.Second {
		t.Errorf("a longer max gave a drain of %v, want at most Timeout (%v)", got, Timeout)
	}
}

// TestStartNotHalfClosable: a connection without CloseWrite is not
// lingered on; the caller closes it.
func TestStartNotHalfClosable(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, ok := Start(a, 0); ok {
		t.Error("Start reported a net.Pipe half-closed")
	}
}

func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a := <-ch
	if a == nil {
		t.Fatal("accept failed")
	}
	return a, b
}
