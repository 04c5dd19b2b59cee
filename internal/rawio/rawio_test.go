//go:build linux

package rawio

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pair returns a wrapped connection and its plain peer, over network
// ("tcp" or "unix").
func pair(t *testing.T, network string) (*Conn, net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	peer, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := <-accepted
	if c == nil {
		t.Fatal("accept failed")
	}
	w, ok := Wrap(c).(*Conn)
	if !ok {
		t.Fatalf("%s connection not wrapped", network)
	}
	t.Cleanup(func() { w.Close(); peer.Close() })
	return w, peer
}

var networks = []string{"tcp", "unix"}

func TestWrapTakesStreamSocketsOnly(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a) != a {
		t.Error("net.Pipe wrapped")
	}
	u, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	uc, err := net.Dial("udp", u.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	if Wrap(uc) != uc {
		t.Error("UDP wrapped")
	}
	sock := filepath.Join(t.TempDir(), "g")
	g, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if Wrap(g) != net.Conn(g) {
		t.Error("unixgram wrapped")
	}
}

// TestBytesBothWays sends 8 MiB each way at once, more than the socket
// buffers hold, so that reads and writes both meet "not ready" and wait on
// the poller.
func TestBytesBothWays(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			w, peer := pair(t, network)
			out := make([]byte, 8<<20)
			in := make([]byte, 8<<20)
			rand.Read(out)
			rand.Read(in)
			var wg sync.WaitGroup
			var gotByPeer, gotByW []byte
			var errs [4]error
			wg.Add(4)
			go func() { defer wg.Done(); _, errs[0] = w.Write(out) }()
			go func() { defer wg.Done(); _, errs[1] = peer.Write(in) }()
			go func() { defer wg.Done(); gotByPeer, errs[2] = readN(peer, len(out), 1000) }()
			go func() { defer wg.Done(); gotByW, errs[3] = readN(w, len(in), 700) }()
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			if !bytes.Equal(gotByPeer, out) || !bytes.Equal(gotByW, in) {
				t.Fatal("bytes differ")
			}
		})
	}
}

// readN reads n bytes in reads of at most chunk.
func readN(r io.Reader, n, chunk int) ([]byte, error) {
	got := make([]byte, 0, n)
	buf := make([]byte, chunk)
	for len(got) < n {
		k, err := r.Read(buf)
		got = append(got, buf[:k]...)
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

func TestEOFAndEmptyRead(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			w, peer := pair(t, network)
			if n, err := w.Read(nil); n != 0 || err != nil {
				t.Fatalf("empty read: %d, %v", n, err)
			}
			if _, err := peer.Write([]byte("last")); err != nil {
				t.Fatal(err)
			}
			peer.Close()
			b, err := io.ReadAll(w)
			if err != nil || string(b) != "last" {
				t.Fatalf("read %q, %v; want \"last\" and a clean end of file", b, err)
			}
			if n, err := w.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Fatalf("after the end: %d, %v; want 0, io.EOF", n, err)
			}
		})
	}
}

// checkOpError holds err to the shape net.Conn gives: a *net.OpError with
// the operation and both addresses, around want.
func checkOpError(t *testing.T, w *Conn, err error, op string, want error) {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("%v (%T) is not a *net.OpError", err, err)
	}
	if oe.Op != op || oe.Net != w.LocalAddr().Network() || oe.Source.String() != w.LocalAddr().String() || oe.Addr.String() != w.RemoteAddr().String() {
		t.Fatalf("op error %+v, want op %q between %v and %v", oe, op, w.LocalAddr(), w.RemoteAddr())
	}
	if !errors.Is(err, want) {
		t.Fatalf("%v is not %v", err, want)
	}
	if _, nested := oe.Err.(*net.OpError); nested {
		t.Fatalf("%v: a *net.OpError inside another", err)
	}
}

func TestDeadlines(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			w, _ := pair(t, network)
			w.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			n, err := w.Read(make([]byte, 10))
			if n != 0 {
				t.Fatalf("read %d bytes from a silent peer", n)
			}
			checkOpError(t, w, err, "read", os.ErrDeadlineExceeded)
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				t.Fatalf("%v is not a timeout", err)
			}
			// The peer reads nothing: the write fills both buffers, then
			// waits, then stops at the deadline with what went out.
			w.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			n, err = w.Write(make([]byte, 64<<20))
			checkOpError(t, w, err, "write", os.ErrDeadlineExceeded)
			if n <= 0 || n >= 64<<20 {
				t.Fatalf("wrote %d bytes before the deadline; want part of it", n)
			}
		})
	}
}

func TestCloseEndsAWaitingRead(t *testing.T) {
	w, _ := pair(t, "tcp")
	done := make(chan error, 1)
	go func() {
		_, err := w.Read(make([]byte, 1))
		done <- err
	}()
	// The read may not have begun when Close runs; either way it ends.
	w.Close()
	select {
	case err := <-done:
		checkOpError(t, w, err, "read", net.ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the read")
	}
}

// TestWriteToAResetPeer: the peer resets; writes fail with the system
// call's error, and no SIGPIPE ends the process (MSG_NOSIGNAL).
func TestWriteToAResetPeer(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			w, peer := pair(t, network)
			if tc, ok := peer.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			peer.Close()
			var err error
			deadline := time.Now().Add(10 * time.Second)
			for err == nil && time.Now().Before(deadline) {
				_, err = w.Write(make([]byte, 64<<10))
			}
			var se *os.SyscallError
			if !errors.As(err, &se) || (!errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET)) {
				t.Fatalf("write to a reset peer: %v; want EPIPE or ECONNRESET in an *os.SyscallError", err)
			}
			checkOpError(t, w, err, "write", se.Err)
		})
	}
}

// TestBlockingDescriptorDoesNotBlock: a descriptor made blocking behind the
// runtime's back still reads without waiting in the kernel (MSG_DONTWAIT),
// so the deadline ends the read; a plain read(2) would hang here.
func TestBlockingDescriptorDoesNotBlock(t *testing.T) {
	w, peer := pair(t, "unix")
	if err := w.rc.Control(func(fd uintptr) { syscall.SetNonblock(int(fd), false) }); err != nil {
		t.Fatal(err)
	}
	w.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := w.Read(make([]byte, 1))
	checkOpError(t, w, err, "read", os.ErrDeadlineExceeded)
	w.SetReadDeadline(time.Time{})
	peer.Write([]byte("x"))
	b := make([]byte, 1)
	if n, err := w.Read(b); n != 1 || err != nil || b[0] != 'x' {
		t.Fatalf("read %q, %v after the peer wrote", b[:n], err)
	}
}

// TestKeepsWhatCallersLookFor: the interfaces callers find on a TCP or unix
// connection are still there, and reach the socket. A unix socket has no
// io.ReaderFrom of its own (its ReadFrom is the datagram one): the copy
// goes through Write.
func TestKeepsWhatCallersLookFor(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			w, peer := pair(t, network)
			var c net.Conn = w
			if _, ok := c.(syscall.Conn); !ok {
				t.Fatal("no SyscallConn")
			}
			if _, ok := c.(interface{ SetLinger(int) error }); !ok {
				t.Fatal("no SetLinger")
			}
			f, err := os.CreateTemp(t.TempDir(), "body")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			body := bytes.Repeat([]byte("sendfile "), 100000)
			f.Write(body)
			f.Seek(0, 0)
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(peer)
				got <- b
			}()
			if n, err := c.(io.ReaderFrom).ReadFrom(f); err != nil || n != int64(len(body)) {
				t.Fatalf("ReadFrom: %d, %v", n, err)
			}
			if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if b := <-got; !bytes.Equal(b, body) {
				t.Fatalf("peer got %d bytes, want %d", len(b), len(body))
			}
		})
	}
}

func BenchmarkPingPong(b *testing.B) {
	for _, wrapped := range []bool{false, true} {
		name := map[bool]string{false: "net", true: "raw"}[wrapped]
		b.Run(name, func(b *testing.B) {
			ln, err := net.Listen("unix", filepath.Join(b.TempDir(), "s"))
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				io.Copy(c, c)
				c.Close()
			}()
			c, err := net.Dial("unix", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if wrapped {
				c = Wrap(c)
			}
			buf := make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestUnixHasNoLinger: SO_LINGER is TCP's; a unix connection says so
// instead of panicking (the SCGI front end asks every connection).
func TestUnixHasNoLinger(t *testing.T) {
	w, _ := pair(t, "unix")
	if err := w.SetLinger(0); !errors.Is(err, syscall.ENOPROTOOPT) {
		t.Fatalf("SetLinger on a unix connection: %v, want ENOPROTOOPT", err)
	}
}

// TestDialedUnixConnection: the FastCGI upstream wraps the side it dials,
// whose local address is unnamed; its errors still name the network.
func TestDialedUnixConnection(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
	}()
	d, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	w, ok := Wrap(d).(*Conn)
	if !ok {
		t.Fatal("dialed unix connection not wrapped")
	}
	defer w.Close()
	w.SetWriteDeadline(time.Now().Add(10 * time.Second))
	var werr error
	for werr == nil {
		_, werr = w.Write(make([]byte, 64<<10))
	}
	var oe *net.OpError
	if !errors.As(werr, &oe) || oe.Net != "unix" || !errors.Is(werr, syscall.EPIPE) && !errors.Is(werr, syscall.ECONNRESET) {
		t.Fatalf("write to a closed peer: %v; want a unix *net.OpError around EPIPE or ECONNRESET", werr)
	}
}
