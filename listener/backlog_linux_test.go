package listener

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestCloseKeepsQueuedConnections: connections the kernel completed before
// Close, each with its request sent, are handed out by Accept after Close
// and can be answered; a unix socket's path is gone first, so a connect
// after Close fails with ENOENT instead of joining a queue about to be
// reset. Before the backlog, Close reset every queued connection.
func TestCloseKeepsQueuedConnections(t *testing.T) {
	for _, addr := range []string{
		"unix:" + filepath.Join(t.TempDir(), "s.sock"),
		"unix:@gatewayd-backlog-test-" + filepath.Base(t.TempDir()),
		"127.0.0.1:0",
	} {
		t.Run(addr[:4], func(t *testing.T) {
			l, err := Open(context.Background(), addr, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			network, dialAddr := "tcp", l.Addr().String()
			if ua, ok := l.Addr().(*net.UnixAddr); ok {
				network, dialAddr = "unix", ua.Name
			}
			const n = 20
			clients := make([]net.Conn, n)
			for i := range clients {
				c, err := net.DialTimeout(network, dialAddr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := c.Write([]byte{'q', byte(i)}); err != nil {
					t.Fatal(err)
				}
				clients[i] = c
			}
			if err := l.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if network == "unix" && dialAddr[0] != '@' {
				if _, err := net.Dial("unix", dialAddr); !errors.Is(err, syscall.ENOENT) {
					t.Errorf("dial after Close: %v, want ENOENT", err)
				}
			}
			for range n {
				c, err := l.Accept()
				if err != nil {
					t.Fatalf("Accept after Close: %v; want the queued connections first", err)
				}
				req := make([]byte, 2)
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.ReadFull(c, req); err != nil {
					t.Fatalf("reading a queued request: %v", err)
				}
				if _, err := c.Write([]byte{'a', req[1]}); err != nil {
					t.Fatal(err)
				}
				c.Close()
			}
			if c, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Accept after the queue: %v, %v; want net.ErrClosed", c, err)
			}
			for i, c := range clients {
				c.SetDeadline(time.Now().Add(5 * time.Second))
				got, err := io.ReadAll(c)
				if err != nil || string(got) != string([]byte{'a', byte(i)}) {
					t.Errorf("client %d got %q, %v", i, got, err)
				}
			}
		})
	}
}

// TestSecondCloseClosesUnacceptedConnections: what nobody accepted after
// Close is closed by the next Close, not leaked.
func TestSecondCloseClosesUnacceptedConnections(t *testing.T) {
	l, err := Open(context.Background(), "unix:"+filepath.Join(t.TempDir(), "s.sock"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l.Close()
	l.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		t.Fatalf("read on a connection left in the queue: %v; want EOF or a reset", err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after two Closes: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
