//go:build linux

// Package rawio reads and writes sockets with raw system calls, so that a
// goroutine keeps its processor through them.
//
// net.Conn's Read and Write enter the system call through the runtime's
// syscall path: the processor (P) is marked as in a system call, and when
// the call lasts longer than a tick of the runtime's monitor thread while
// other goroutines are ready, the monitor hands the P to another thread.
// A socket write that wakes a process on the same CPU (nginx, php-fpm)
// often lasts that long, because the kernel switches to the woken process
// before returning. On a server pinned to one CPU, gatewayd then ran its
// goroutines on up to four threads that took turns, each switch a context
// switch: about two per request behind php-fpm against nginx's 1.25, and
// a third more CPU per request.
//
// A read or write of a non-blocking socket never waits in the kernel, so
// keeping the P through it costs the other goroutines nothing they would
// have had: here they are made with MSG_DONTWAIT (they cannot block even
// on a descriptor someone made blocking) and without the runtime's
// bookkeeping, and the wait for readiness is the runtime's poller as
// before (syscall.RawConn), deadlines included.
package rawio

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// maxRW is the most one call asks of the kernel, as in internal/poll.
const maxRW = 1 << 30

// Conn is a TCP or unix stream connection whose Read and Write are raw
// system calls. Everything else is the wrapped connection's.
type Conn struct {
	net.Conn
	rc  syscall.RawConn
	net string // "tcp" or "unix", for errors
	r   half
	w   half
}

// half is one direction's call: one at a time (the poller's locks would
// serialize them anyway), its arguments kept here for the callback, which
// is made once (a closure per call would be an allocation).
type half struct {
	mu  sync.Mutex
	buf []byte
	n   int
	err syscall.Errno
	fn  func(uintptr) bool
}

// run makes one call: wait is the RawConn's Read or Write, which calls
// h.fn until it reports done, waiting on the poller between.
func (h *half) run(p []byte, wait func(func(uintptr) bool) error) (n int, errno syscall.Errno, err error) {
	h.mu.Lock()
	h.buf, h.n, h.err = p, 0, 0
	err = wait(h.fn)
	n, errno = h.n, h.err
	h.buf = nil
	h.mu.Unlock()
	return n, errno, err
}

// Wrap returns c with raw reads and writes when it is a *net.TCPConn or a
// *net.UnixConn (stream), and c itself otherwise.
func Wrap(c net.Conn) net.Conn {
	var network string
	switch v := c.(type) {
	case *net.TCPConn:
		network = "tcp"
	case *net.UnixConn:
		if !isStream(v) {
			return c // unixgram and unixpacket keep their message boundaries
		}
		network = "unix"
	default:
		return c
	}
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		return c
	}
	w := &Conn{Conn: c, rc: rc, net: network}
	w.r.fn = w.read
	w.w.fn = w.write
	return w
}

// isStream reports whether a unix connection is SOCK_STREAM, as its local
// address says (Go names the socket type there, even for an unnamed
// socket); when there is none to ask, it is not taken.
func isStream(c *net.UnixConn) bool {
	a, ok := c.LocalAddr().(*net.UnixAddr)
	return ok && a != nil && a.Net == "unix"
}

// SyscallConn gives the socket's RawConn, as the wrapped connection does.
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

// read is one recv for Read; false means "not ready, wait".
func (c *Conn) read(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd,
			uintptr(unsafe.Pointer(unsafe.SliceData(c.r.buf))), uintptr(len(c.r.buf)),
			syscall.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			c.r.n = int(r)
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.r.err = e
			return true
		}
	}
}

// write sends what is left of w.buf for Write; false means "not ready, wait".
func (c *Conn) write(fd uintptr) bool {
	for c.w.n < len(c.w.buf) {
		p := c.w.buf[c.w.n:]
		if len(p) > maxRW {
			p = p[:maxRW]
		}
		r, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd,
			uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)),
			syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			c.w.n += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.w.err = e
			return true
		}
	}
	return true
}

// opError shapes err as net.Conn's Read and Write do: a *net.OpError with
// the connection's addresses around a deadline error, net.ErrClosed or an
// *os.SyscallError.
func (c *Conn) opError(op string, err error, errno syscall.Errno) error {
	if oe, ok := err.(*net.OpError); ok {
		err = oe.Err // the RawConn's "raw-read" wrapping
	}
	if errno != 0 {
		err = os.NewSyscallError(op, errno)
	}
	return &net.OpError{Op: op, Net: c.net, Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// Read reads as net.Conn's Read does.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(p) > maxRW {
		p = p[:maxRW]
	}
	n, e, err := c.r.run(p, c.rc.Read)
	switch {
	case err != nil || e != 0:
		return 0, c.opError("read", err, e)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes as net.Conn's Write does: all of p, or an error.
func (c *Conn) Write(p []byte) (int, error) {
	n, e, err := c.w.run(p, c.rc.Write)
	if err != nil || e != 0 {
		return n, c.opError("write", err, e)
	}
	return n, nil
}

// CloseWrite shuts the write side, as the wrapped connection does.
func (c *Conn) CloseWrite() error {
	return c.Conn.(interface{ CloseWrite() error }).CloseWrite()
}

// SetLinger sets SO_LINGER on a TCP connection, as the wrapped connection
// does; on a unix one, which has no such method, it does nothing and says
// so.
func (c *Conn) SetLinger(sec int) error {
	if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		return l.SetLinger(sec)
	}
	return c.opError("set", nil, syscall.ENOPROTOOPT)
}

// ReadFrom keeps a TCP connection's sendfile and splice. A unix one has
// no io.ReaderFrom (its ReadFrom is the datagram one), so the bytes are
// copied through Write.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c}, r)
}

// writerOnly hides Conn's ReadFrom from io.Copy, which would call it again.
type writerOnly struct{ io.Writer }
